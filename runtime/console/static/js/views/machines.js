// The state machines list.

import {api} from "../api.js";
import {formatDate, h} from "../dom.js";

export async function showMachines(main) {
  const {stateMachines} = await api.stateMachines();
  const rows = stateMachines.map((machine) => h("tr", {},
    h("td", {}, h("a", {href: `#/machine?arn=${encodeURIComponent(machine.stateMachineArn)}`},
                  machine.name)),
    h("td", {}, machine.type),
    h("td", {}, formatDate(machine.creationDate)),
    h("td", {}, formatDate(machine.updateDate))));
  main.append(
    h("div", {class: "title-row"},
      h("h1", {}, `State machines (${stateMachines.length})`),
      h("a", {class: "button primary", href: "#/editor"}, "Create state machine")),
    stateMachines.length === 0
      ? h("p", {class: "muted"}, "No state machines yet.")
      : h("table", {class: "list", id: "machines"},
          h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Type"),
                              h("th", {}, "Created"), h("th", {}, "Updated"))),
          h("tbody", {}, rows)));
}
