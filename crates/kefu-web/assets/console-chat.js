// The agent's chat console: conversations given to this agent, their messages, replies.
(function () {
  "use strict";
  var root = document.getElementById("chats");
  var status = document.getElementById("status");
  var L = JSON.parse(document.getElementById("labels").textContent);
  var convs = {};
  var ws, retry = 500;
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function conv(id) {
    if (convs[id]) return convs[id];
    var box = el("section", "conv");
    box.dataset.conversation = id;
    var head = el("header", null);
    head.appendChild(el("strong", null, L.conversation + " " + id.slice(-6)));
    var end = el("button", "end", L.end); end.type = "button";
    end.onclick = function () { send({ type: "end", conversation: id }); };
    head.appendChild(end);
    var log = el("div", "log");
    var form = el("form", "reply");
    var input = el("textarea"); input.rows = 2; input.placeholder = L.placeholder; input.name = "reply";
    var btn = el("button", null, L.send); btn.type = "submit";
    form.appendChild(input); form.appendChild(btn);
    form.onsubmit = function (e) {
      e.preventDefault();
      var text = input.value.trim(); if (!text) return;
      input.value = "";
      var cid = "a" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
      var m = line(c, "agent", text, cid); m.status.textContent = L.sending;
      send({ type: "send", conversation: id, id: cid, text: text });
    };
    input.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); btn.click(); } });
    box.appendChild(head); box.appendChild(log); box.appendChild(form);
    root.appendChild(box);
    var c = { box: box, log: log, seen: {}, mine: {} };
    convs[id] = c;
    return c;
  }
  function line(c, from, text, cid) {
    var m = el("div", "m " + from, text);
    var s = el("div", "s", ""); m.appendChild(s);
    c.log.appendChild(m); c.log.scrollTop = c.log.scrollHeight;
    if (cid) c.mine[cid] = s;
    return { el: m, status: s };
  }
  function show(f) {
    var c = conv(f.conversation);
    if (c.seen[f.seq]) return;
    c.seen[f.seq] = true;
    if (f.from === "agent" && c.mine[f.id]) { c.mine[f.id].textContent = "✓ " + L.sent; return; }
    line(c, f.from, f.text);
  }
  function send(f) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(f)); }
  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/chat/ws");
    ws.onopen = function () { retry = 500; };
    ws.onmessage = function (ev) {
      var f = JSON.parse(ev.data);
      if (f.type === "ready") { status.textContent = L.ready; status.className = "ok"; }
      else if (f.type === "assigned") { var c = conv(f.conversation); (f.history || []).forEach(show); c.box.classList.add("new"); }
      else if (f.type === "message") { show(f); }
      else if (f.type === "ack") { var c2 = convs[f.conversation]; if (c2 && c2.mine[f.id]) c2.mine[f.id].textContent = "✓ " + L.sent; }
      else if (f.type === "ended") { var c3 = convs[f.conversation]; if (c3) { c3.box.classList.add("ended"); c3.box.querySelector("form").remove(); c3.log.appendChild(el("div", "note", L.ended)); } }
      else if (f.type === "error") { status.textContent = f.detail; status.className = "err"; }
    };
    ws.onclose = function () { setTimeout(connect, retry); retry = Math.min(retry * 2, 10000); };
  }
  connect();
})();
