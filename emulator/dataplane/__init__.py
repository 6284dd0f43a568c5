"""The emulator's data plane: what runs behind the control plane that moto emulates.

moto stores what Terraform creates; the modules here make it run: one module a service
(Lambda functions, MSK brokers, schedules, event source mappings, ...). Every process they
start belongs to one :class:`~emulator.dataplane.supervisor.Supervisor`.
"""
