// The corpus web apps: an expense tool, a CRM, a ticket queue, a mail inbox, a
// document editor and a team chat. Each view's title follows the shape of the real
// product it stands for, since titles are what the agent records.
"use strict";

const TICKETS = [
  "Printer jams on floor 3", "VPN drops every hour", "New starter needs a laptop",
  "Cannot open the sales deck", "Refund not received", "Password reset loop",
  "Invoice shows the wrong VAT", "Order arrived damaged",
];
const MAILS = [
  "Contract renewal", "Quarterly numbers", "Lunch on Friday?", "Your invoice 5521",
  "Meeting notes from Tuesday", "Re-org announcement", "Travel policy update",
];
const PEOPLE = ["Dana Reyes", "Omar Haddad", "Li Wei", "Sam Okafor", "Ines Duarte"];
const pick = (list, n) => list[Math.abs(n) % list.length];
const bump = (s, k) => (s[k] = (s[k] || 0) + 1);
const rows = (items) => h("ul", {}, items.map((i) => h("li", {}, i)));
const onEnter = (el, then) => {
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      then();
    }
  });
  return el;
};

const APPS = {
  ledgerly: {
    name: "Ledgerly",
    home: "list",
    nav: [["nav-expenses", "Expenses", "list"], ["nav-approvals", "Approvals", "approvals"]],
    views: {
      list: {
        title: () => "Expenses · Ledgerly",
        body: (s) => [
          button("new", "New expense", () => go("new")),
          rows((s.expenses || []).slice(-6).map((e) => `${e.merchant} — $${e.amount} — ${e.category}`)),
        ],
      },
      new: {
        title: () => "New expense · Ledgerly",
        body: (s) => [
          field("merchant", "Merchant"),
          field("amount", "Amount"),
          choice("category", "Category", ["Travel", "Meals", "Lodging", "Office"]),
          field("note", "Note"),
          button("submit", "Submit", () =>
            ask(`Submit $${value("amount")} at ${value("merchant")} for approval?`, "Submit", () => {
              (s.expenses = s.expenses || []).push({
                merchant: value("merchant"), amount: value("amount"), category: value("category"),
              });
              go("list");
            }),
          ),
          button("cancel", "Cancel", () => go("list")),
        ],
      },
      approvals: {
        title: (s) => `Approvals (${4 - ((s.approved || 0) % 4)}) · Ledgerly`,
        body: (s) =>
          [0, 1, 2].map((i) => button(`report-${i}`, `Report ${2231 + (s.approved || 0) * 3 + i} — ${pick(PEOPLE, (s.approved || 0) + i)}`,
            () => go(`report/${2231 + (s.approved || 0) * 3 + i}`))),
      },
      report: {
        title: (s, id) => `Report ${id} – ${pick(PEOPLE, +id)} · Ledgerly`,
        body: (s, id) => [
          rows(["Taxi — $31.20", "Hotel — $189.00", "Dinner — $54.75"]),
          field("comment", "Comment"),
          button("approve", "Approve", () =>
            ask(`Approve report ${id}?`, "Approve", () => {
              bump(s, "approved");
              go("approvals");
            }),
          ),
          button("reject", "Send back", () => go("approvals")),
        ],
      },
    },
  },

  orbit: {
    name: "Orbit CRM",
    home: "home",
    nav: [["nav-home", "Home", "home"], ["new-lead", "New lead", "lead"]],
    views: {
      home: {
        title: () => "Home | Orbit CRM",
        body: (s) => [
          onEnter(field("search", "Search accounts"), () => {
            const q = value("search").trim();
            if (q) go("account/" + encodeURIComponent(q[0].toUpperCase() + q.slice(1)));
          }),
          rows((s.recent || []).slice(-5)),
        ],
      },
      account: {
        title: (s, name) => `${decodeURIComponent(name)} | Account | Orbit CRM`,
        body: (s, name) => [
          h("h2", {}, decodeURIComponent(name)),
          button("log-call", "Log a call", () => go("call/" + name)),
          button("edit", "Edit", () => {}),
          rows((s.calls || []).filter((c) => c.name === name).map((c) => `${c.outcome}: ${c.subject}`)),
        ],
      },
      call: {
        title: (s, name) => `Log a call | ${decodeURIComponent(name)} | Orbit CRM`,
        body: (s, name) => [
          field("subject", "Subject"),
          area("notes", "Notes"),
          choice("outcome", "Outcome", ["Connected", "Left voicemail", "No answer"]),
          button("save", "Save", () => {
            (s.calls = s.calls || []).push({ name, subject: value("subject"), outcome: value("outcome") });
            (s.recent = s.recent || []).push(decodeURIComponent(name));
            go("account/" + name);
          }),
          button("cancel", "Cancel", () => go("account/" + name)),
        ],
      },
      lead: {
        title: () => "New lead | Orbit CRM",
        body: (s) => [
          field("name", "Name"),
          field("company", "Company"),
          field("email", "E-mail"),
          field("phone", "Phone"),
          button("save", "Save", () => {
            bump(s, "leads");
            go("saved/" + encodeURIComponent(value("name")));
          }),
          button("cancel", "Cancel", () => go("home")),
        ],
      },
      saved: {
        title: (s, name) => `${decodeURIComponent(name)} | Lead | Orbit CRM`,
        body: (s, name) => [h("p", {}, `Lead ${decodeURIComponent(name)} saved.`), button("done", "Back to home", () => go("home"))],
      },
    },
  },

  helpdesk: {
    name: "Helpdesk",
    home: "queue",
    views: {
      queue: {
        title: (s) => `Queue (${12 - ((s.solved || 0) % 9)} open) — Helpdesk`,
        body: (s) =>
          [0, 1, 2, 3].map((i) => {
            const id = 4471 + (s.solved || 0) * 4 + i;
            return button(`ticket-${i}`, `#${id} ${pick(TICKETS, id)}`, () => go(`ticket/${id}`));
          }),
      },
      ticket: {
        title: (s, id) => `#${id} ${pick(TICKETS, +id)} — Helpdesk`,
        body: (s, id) => [
          h("p", {}, `${pick(PEOPLE, +id)} wrote: ${pick(TICKETS, +id)}. Please help.`),
          area("reply", "Reply"),
          choice("status", "Status", ["Open", "Pending", "Solved"]),
          button("send", "Send", () => {
            bump(s, "solved");
            go("queue");
          }),
        ],
      },
    },
  },

  postbox: {
    name: "Postbox",
    home: "inbox",
    nav: [["compose", "Compose", "inbox"]],
    views: {
      inbox: {
        title: (s) => `Inbox (${3 + ((s.sent || 0) % 5)}) - Postbox`,
        body: (s) =>
          [0, 1, 2].map((i) => button(`msg-${i}`, `${pick(PEOPLE, (s.sent || 0) + i)} — ${pick(MAILS, (s.sent || 0) + i)}`,
            () => go(`message/${(s.sent || 0) + i}`))),
      },
      message: {
        title: (s, i) => `${pick(MAILS, +i)} - Postbox`,
        body: (s, i) => [
          h("p", {}, `From ${pick(PEOPLE, +i)}: about ${pick(MAILS, +i).toLowerCase()}, can you reply today?`),
          button("reply", "Reply", () => go(`reply/${i}`)),
          button("archive", "Archive", () => go("inbox")),
        ],
      },
      reply: {
        title: (s, i) => `Re: ${pick(MAILS, +i)} - Postbox`,
        body: (s, i) => [
          area("body", "Message"),
          button("send", "Send", () => {
            bump(s, "sent");
            go("inbox");
          }),
          button("discard", "Discard", () => go("inbox")),
        ],
      },
    },
  },

  quill: {
    name: "Quill",
    home: "home",
    views: {
      home: {
        title: () => "Documents - Quill",
        body: (s) => [button("new-doc", "New document", () => go(`doc/${bump(s, "docs")}`)), rows(s.titles || [])],
      },
      doc: {
        title: () => "Untitled document - Quill",
        body: (s, id) => {
          const title = field("doc-title", "Title");
          title.querySelector("input").addEventListener("input", (e) => {
            document.title = `${e.target.value || "Untitled document"} - Quill`;
          });
          return [
            title,
            area("doc-body", "Text"),
            button("done", "Save and close", () => {
              (s.titles = s.titles || []).push(value("doc-title"));
              go("home");
            }),
          ];
        },
      },
    },
  },

  banter: {
    name: "Banter",
    home: "channel",
    views: {
      channel: {
        title: () => "#team | Banter",
        autofocus: true,
        body: (s) => [
          rows((s.said || []).slice(-8)),
          onEnter(field("message", "Message #team"), () => {
            (s.said = s.said || []).push(value("message"));
            keep();
            render();
          }),
        ],
      },
    },
  },
};
