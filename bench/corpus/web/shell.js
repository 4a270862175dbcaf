// The corpus web apps' shared runtime. Each app is a table of views; a view has a
// title (what the browser shows, what the agent records) and a body built from
// elements marked with data-t. After every render the page posts where those
// elements are, and the height of the browser's own chrome, so that the scripted
// user can move the real mouse to them.
"use strict";

const APP = location.pathname.split("/")[1];
const S = JSON.parse(sessionStorage.getItem("state-" + APP) || "{}");
let seq = 0;
let modal = null;

function keep() {
  sessionStorage.setItem("state-" + APP, JSON.stringify(S));
}

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "t") el.dataset.t = v;
    else el.setAttribute(k, v);
  }
  for (const k of kids.flat()) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

const button = (t, label, action) => h("button", { t, type: "button", onclick: action }, label);
const field = (t, label, type = "text") =>
  h("label", {}, h("span", {}, label), h("input", { t, name: t, type, autocomplete: "off" }));
const area = (t, label) => h("label", {}, h("span", {}, label), h("textarea", { t, name: t, rows: 5 }));
const choice = (t, label, options) =>
  h("label", {}, h("span", {}, label), h("select", { t, name: t }, options.map((o) => h("option", {}, o))));
const value = (t) => (document.querySelector(`[data-t="${t}"]`) || {}).value || "";
const go = (view) => {
  location.hash = "#/" + view;
};

function ask(text, yes, onYes) {
  modal = h(
    "div",
    { class: "modal" },
    h("div", { class: "box", role: "dialog" }, h("p", {}, text), button("confirm", yes, () => close(onYes)), button("dismiss", "Go back", () => close(null))),
  );
  document.body.append(modal);
  report();
}

function close(then) {
  modal.remove();
  modal = null;
  if (then) then();
  else report();
}

function report() {
  const targets = {};
  for (const el of document.querySelectorAll("[data-t]")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) targets[el.dataset.t] = [r.x, r.y, r.width, r.height];
  }
  const view = (location.hash.slice(2) || "").split("/")[0] || APPS[APP].home;
  fetch("/layout", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      app: APP,
      view: modal ? view + "+dialog" : view,
      seq: ++seq,
      visible: document.visibilityState === "visible",
      chrome: [(window.outerWidth - window.innerWidth) / 2, window.outerHeight - window.innerHeight],
      targets,
    }),
  });
}

function render() {
  const app = APPS[APP];
  const [view, ...args] = (location.hash.slice(2) || app.home).split("/");
  const v = app.views[view] || app.views[app.home];
  document.title = v.title(S, ...args);
  const main = h("main", {}, v.body(S, ...args));
  document.body.replaceChildren(
    h("header", {}, h("b", {}, app.name), (app.nav || []).map(([t, label, to]) => button(t, label, () => go(to)))),
    main,
  );
  const first = main.querySelector("input,textarea");
  if (first && v.autofocus) first.focus();
  keep();
  setTimeout(report, 30); // not requestAnimationFrame: it never fires in a background tab
}

window.addEventListener("hashchange", render);
window.addEventListener("resize", report);
document.addEventListener("visibilitychange", report);
window.addEventListener("load", render);
