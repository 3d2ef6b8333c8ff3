// The console's router: the part of the URL after "#" names the view and its parameters,
// e.g. #/execution?arn=... . Each view renders into <main> and returns a cleanup function
// (stopping its polling) that runs before the next view is shown.

import {showEditor} from "./views/editor.js";
import {showExecution} from "./views/execution.js";
import {showMachine} from "./views/machine.js";
import {showMachines} from "./views/machines.js";
import {showMapRun} from "./views/map-run.js";
import {toast} from "./dom.js";

const VIEWS = {
  "": showMachines,
  "machine": showMachine,
  "execution": showExecution,
  "editor": showEditor,
  "map-run": showMapRun,
};

let cleanup = null;

async function route() {
  const [path, search] = location.hash.replace(/^#\/?/, "").split("?");
  const params = Object.fromEntries(new URLSearchParams(search ?? ""));
  const show = VIEWS[path] ?? showMachines;
  if (cleanup) cleanup();
  cleanup = null;
  const main = document.getElementById("view");
  main.replaceChildren();
  main.dataset.view = path || "machines";
  try {
    cleanup = await show(main, params);
  } catch (error) {
    toast(error.message);
  }
}

window.addEventListener("hashchange", route);
route();
