// Preloaded into the jsii kernel (node) by modules/provider_bindings.py.
//
// @cdktf/provider-aws's lib/index.js is 2,135 lines of `exports.x = require("./x");`, so the
// kernel compiles every service module when it loads the assembly. This hook serves that one
// file as getters that require a module the first time the kernel looks it up. Any other file,
// or an index of another shape, loads as usual.
"use strict";
const Module = require("module");
const fs = require("fs");
const path = require("path");

const INDEX = path.join("@cdktf", "provider-aws", "lib", "index.js");
const EXPORT_LINE = /exports\.([A-Za-z0-9_$]+) = require\("(\.\/[^"]+)"\);/g;
const loadJs = Module._extensions[".js"];

Module._extensions[".js"] = function (module, filename) {
  if (!filename.endsWith(INDEX)) {
    return loadJs(module, filename);
  }
  const entries = [...fs.readFileSync(filename, "utf8").matchAll(EXPORT_LINE)];
  if (entries.length === 0) {
    return loadJs(module, filename);
  }
  Object.defineProperty(module.exports, "__esModule", { value: true });
  for (const [, name, request] of entries) {
    Object.defineProperty(module.exports, name, {
      enumerable: true,
      configurable: true,
      get() {
        const value = module.require(request);
        Object.defineProperty(module.exports, name, { value, enumerable: true });
        return value;
      },
    });
  }
};
