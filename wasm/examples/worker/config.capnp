# workerd config of the example worker (run by wasm/tests/node/worker.test.mjs):
#
#   KEYWHEEL_MAIN_KEY=<64 hex digits> workerd serve config.capnp --socket-addr http=127.0.0.1:8787
#
# It listens on 127.0.0.1 only and needs no network. The worker imports the npm package's
# module entry (package.json's "workerd" export, pkg/keywheel.js) as it is, under the module
# name "keywheel"; its `import ... from "./keywheel_raw.js"` (wasm-bindgen's `--target module`
# glue) and the glue's `import source ... from "./keywheel_bg.wasm"` find the modules beside
# it. Build the package first: wasm/build.sh.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "keywheel", esModule = embed "../../pkg/keywheel.js"),
    (name = "keywheel_raw.js", esModule = embed "../../pkg/keywheel_raw.js"),
    (name = "keywheel_bg.wasm", wasm = embed "../../pkg/keywheel_bg.wasm"),
  ],
  # The cluster's main key, as 64 hex digits, from the environment (a secret in production).
  bindings = [(name = "MAIN_KEY", fromEnvironment = "KEYWHEEL_MAIN_KEY")],
  compatibilityDate = "2026-11-01",
);
