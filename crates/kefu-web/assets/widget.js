// kefu chat widget: one <script> tag on any page.
//   <script src="https://kefu.example.com/widget.js" data-contract="GDT-KF-2026-0017" async></script>
// Optional: data-lang="zh|en" (default: the page's <html lang>, then the browser's).
// Messages are shown as "sending" until kefu has stored them and says so ("ack"); a
// conversation survives reloads and reconnects (its id and secret stay in localStorage),
// and unacknowledged messages are sent again with the same id (kefu keeps them once).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src, location.href);
  var contract = script.getAttribute("data-contract") || "";
  var langAttr = script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "zh";
  var zh = !/^en/i.test(langAttr);
  var T = zh ? {
    open: "在线客服", title: "在线客服", placeholder: "请输入消息…", send: "发送",
    sending: "发送中", sent: "已送达", queue: "排队中,您前面还有 {n} 位", assigned: "客服已接入",
    ended: "会话已结束,请为本次服务评分:", thanks: "感谢您的评价!", offline: "连接中断,正在重连…",
    close: "关闭", end: "结束会话",
    hours: "服务时间:{h}", closed: "现在不在服务时间内({h})。", next: "下次开始服务:{t}。",
    leaveHint: "请留言,我们会在服务时间内联系您。", name: "您的称呼(选填)", reach: "手机号或邮箱",
    message: "留言内容", leave: "提交留言", left: "留言已收到,我们会尽快联系您。参考号:{r}",
    comeBack: "请在服务时间内再来。"
  } : {
    open: "Chat with us", title: "Customer service", placeholder: "Type a message…", send: "Send",
    sending: "sending", sent: "delivered", queue: "In the queue: {n} ahead of you", assigned: "An agent has joined",
    ended: "The conversation has ended. How did we do?", thanks: "Thank you for your rating!", offline: "Connection lost, reconnecting…",
    close: "Close", end: "End chat",
    hours: "Service hours: {h}", closed: "We are outside our service hours ({h}).", next: "We open again at {t}.",
    leaveHint: "Leave a message and we will contact you during service hours.", name: "Your name (optional)", reach: "Phone number or email",
    message: "Your message", leave: "Leave message", left: "Message received; we will contact you soon. Reference: {r}",
    comeBack: "Please come back during service hours."
  };
  var KEY = "kefu-chat:" + base.host + ":" + contract;
  var saved = {};
  try { saved = JSON.parse(localStorage.getItem(KEY) || "{}"); } catch (e) { saved = {}; }
  function save() { try { localStorage.setItem(KEY, JSON.stringify(saved)); } catch (e) {} }
  saved.pending = saved.pending || [];
  var offlinePending = null; // the message left outside hours, until kefu has stored it
  saved.lastSeq = saved.lastSeq || 0;

  var css = "#kefu-btn{position:fixed;right:20px;bottom:20px;z-index:2147483000;background:#1f5fbf;color:#fff;border:0;border-radius:24px;padding:12px 20px;font:16px system-ui,sans-serif;box-shadow:0 2px 8px #0004;cursor:pointer}" +
    "#kefu-panel{position:fixed;right:20px;bottom:20px;z-index:2147483001;width:360px;height:520px;max-height:calc(100vh - 40px);background:#fff;border-radius:10px;box-shadow:0 4px 20px #0005;display:none;flex-direction:column;font:15px system-ui,'Noto Sans CJK SC',sans-serif;color:#1d2330}" +
    "#kefu-panel.open{display:flex}#kefu-head{background:#1f5fbf;color:#fff;padding:10px 14px;border-radius:10px 10px 0 0;display:flex;justify-content:space-between;align-items:center}" +
    "#kefu-head button{background:none;border:0;color:#fff;font-size:14px;cursor:pointer}#kefu-log{flex:1;overflow-y:auto;padding:10px;background:#f5f6f8}" +
    ".kefu-m{max-width:80%;margin:6px 0;padding:8px 10px;border-radius:8px;white-space:pre-wrap;word-wrap:break-word}.kefu-customer{margin-left:auto;background:#dbe8ff}.kefu-agent{background:#fff;border:1px solid #dde}" +
    ".kefu-s{font-size:11px;color:#667;margin-top:2px;text-align:right}.kefu-note{text-align:center;color:#667;font-size:13px;margin:8px 0}" +
    "#kefu-form{display:flex;border-top:1px solid #dde}#kefu-input{flex:1;border:0;padding:10px;font:inherit;resize:none}#kefu-send{border:0;background:#1f5fbf;color:#fff;padding:0 16px;font:inherit;cursor:pointer}" +
    "#kefu-offline{display:flex;flex-direction:column;gap:8px;margin:8px 0}#kefu-offline p{margin:0;line-height:1.5}#kefu-offline input,#kefu-offline textarea{border:1px solid #ccd;border-radius:6px;padding:8px;font:inherit;width:auto}" +
    "#kefu-offline button{background:#1f5fbf;color:#fff;border:0;border-radius:6px;padding:10px;font:inherit;cursor:pointer}#kefu-offline button:disabled{opacity:.6}#kefu-offline-error{color:#b00020;font-size:13px}" +
    ".kefu-stars button{font-size:24px;background:none;border:0;cursor:pointer;color:#e0a800}" +
    "#kefu-panel button,#kefu-btn{margin:0;width:auto}#kefu-panel textarea{width:auto;box-sizing:border-box;border-radius:0;margin:0}" +
    "@media(max-width:480px){#kefu-panel{right:0;bottom:0;width:100vw;height:100vh;max-height:100vh;border-radius:0}#kefu-head{border-radius:0}}";
  var style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);

  var btn = document.createElement("button");
  btn.id = "kefu-btn"; btn.type = "button"; btn.textContent = T.open;
  var panel = document.createElement("div");
  panel.id = "kefu-panel"; panel.setAttribute("role", "dialog"); panel.setAttribute("aria-label", T.title);
  panel.innerHTML = '<div id="kefu-head"><strong></strong><span><button type="button" id="kefu-end"></button> <button type="button" id="kefu-close"></button></span></div>' +
    '<div id="kefu-log" aria-live="polite"></div><form id="kefu-form"><textarea id="kefu-input" rows="2"></textarea><button id="kefu-send" type="submit"></button></form>';
  document.body.appendChild(btn);
  document.body.appendChild(panel);
  panel.querySelector("#kefu-head strong").textContent = T.title;
  panel.querySelector("#kefu-close").textContent = T.close;
  panel.querySelector("#kefu-end").textContent = T.end;
  panel.querySelector("#kefu-send").textContent = T.send;
  var input = panel.querySelector("#kefu-input");
  input.placeholder = T.placeholder;
  var log = panel.querySelector("#kefu-log");
  var shown = {};      // seq -> true
  var bubbles = {};    // client id -> status element
  var note = null;
  var ws = null, ready = false, retry = 500, firstConnect = true;

  function setNote(text) {
    if (!note) { note = document.createElement("div"); note.className = "kefu-note"; log.appendChild(note); }
    note.textContent = text || "";
    note.style.display = text ? "" : "none";
  }
  function bubble(cls, text, id, status) {
    var m = document.createElement("div");
    m.className = "kefu-m kefu-" + cls;
    m.textContent = text;
    if (id) {
      var s = document.createElement("div");
      s.className = "kefu-s"; s.textContent = status || "";
      m.appendChild(s);
      bubbles[id] = s;
    }
    log.appendChild(m);
    if (note) log.appendChild(note);
    log.scrollTop = log.scrollHeight;
  }
  function send(frame) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame)); }
  function flush() { saved.pending.forEach(function (p) { send({ type: "send", id: p.id, text: p.text }); }); }

  function connect() {
    var url = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/chat/ws";
    ws = new WebSocket(url);
    ws.onopen = function () {
      retry = 500; setNote("");
      // After a page load, the whole conversation so far; after a reconnect, what was missed.
      if (offlinePending) { send(offlinePending); firstConnect = false; return; }
      if (saved.conversation) send({ type: "resume", conversation: saved.conversation, token: saved.token, after: firstConnect ? 0 : saved.lastSeq });
      else send({ type: "start", contract: contract });
      firstConnect = false;
    };
    ws.onmessage = function (ev) {
      var f; try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "closed") {
        showClosed(f);
      } else if (f.type === "message_left") {
        offlinePending = null;
        var box = panel.querySelector("#kefu-offline");
        if (box) box.remove();
        var n = document.createElement("div"); n.className = "kefu-note"; n.textContent = T.left.replace("{r}", (f.reference || "").slice(-8));
        log.appendChild(n);
      } else if (f.type === "error" && offlinePending && f.id === offlinePending.id) {
        var err = panel.querySelector("#kefu-offline-error");
        if (err) err.textContent = f.detail || "";
        var b = panel.querySelector("#kefu-offline button"); if (b) b.disabled = false;
        offlinePending = null;
      } else if (f.type === "welcome") {
        if (f.hours && f.hours[zh ? "zh" : "en"] && !shownHours) {
          shownHours = true;
          var h = document.createElement("div"); h.className = "kefu-note"; h.textContent = T.hours.replace("{h}", f.hours[zh ? "zh" : "en"]);
          log.insertBefore(h, log.firstChild);
        }
        if (f.token) { saved.conversation = f.conversation; saved.token = f.token; saved.lastSeq = 0; save(); }
        ready = true; flush();
      } else if (f.type === "ack") {
        saved.pending = saved.pending.filter(function (p) { return p.id !== f.id; }); save();
        if (bubbles[f.id]) bubbles[f.id].textContent = "✓ " + T.sent;
      } else if (f.type === "message") {
        if (shown[f.seq]) return;
        shown[f.seq] = true;
        if (f.seq > saved.lastSeq) { saved.lastSeq = f.seq; save(); }
        if (f.from === "customer") {
          if (bubbles[f.id]) { bubbles[f.id].textContent = "✓ " + T.sent; return; }
          bubble("customer", f.text, f.id, "✓ " + T.sent);
        } else {
          bubble("agent", f.text);
        }
      } else if (f.type === "queue") {
        setNote(T.queue.replace("{n}", Math.max(0, f.position - 1)));
      } else if (f.type === "assigned") {
        setNote(T.assigned);
      } else if (f.type === "ended") {
        showRating();
      } else if (f.type === "error" && /wrong token|unknown conversation/.test(f.detail || "")) {
        saved = { pending: [], lastSeq: 0 }; save(); ws.close();
      }
    };
    ws.onclose = function () {
      ready = false;
      setNote(T.offline);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }
  var shownHours = false;
  function showClosed(f) {
    panel.querySelector("#kefu-form").style.display = "none";
    panel.querySelector("#kefu-end").style.display = "none";
    if (panel.querySelector("#kefu-offline")) return;
    var hours = f.hours ? f.hours[zh ? "zh" : "en"] : "";
    var box = document.createElement("form");
    box.id = "kefu-offline";
    var p = document.createElement("p");
    var gap = zh ? "" : " ";
    p.textContent = T.closed.replace("{h}", hours) + (f.next_opening ? gap + T.next.replace("{t}", f.next_opening) : "") +
      gap + (f.takes_messages ? T.leaveHint : T.comeBack);
    box.appendChild(p);
    if (f.takes_messages) {
      var fields = [["name", "input", T.name], ["reach", "input", T.reach], ["text", "textarea", T.message]];
      fields.forEach(function (d) {
        var el = document.createElement(d[1]); el.name = d[0]; el.placeholder = d[2]; el.setAttribute("aria-label", d[2]);
        if (d[0] !== "name") el.required = true;
        if (d[1] === "textarea") el.rows = 4;
        box.appendChild(el);
      });
      var err = document.createElement("div"); err.id = "kefu-offline-error"; err.setAttribute("role", "alert");
      box.appendChild(err);
      var submit = document.createElement("button"); submit.type = "submit"; submit.textContent = T.leave;
      box.appendChild(submit);
      box.onsubmit = function (e) {
        e.preventDefault();
        submit.disabled = true; err.textContent = "";
        offlinePending = { type: "leave_message", contract: contract,
          id: "o" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8),
          name: box.elements.name.value.trim() || null, reach: box.elements.reach.value.trim(), text: box.elements.text.value.trim() };
        send(offlinePending);
      };
    }
    log.appendChild(box);
  }
  function showRating() {
    setNote(T.ended);
    var stars = document.createElement("div");
    stars.className = "kefu-note kefu-stars";
    for (var i = 1; i <= 5; i++) (function (n) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = "★"; b.title = String(n);
      b.onclick = function () { send({ type: "rate", score: n }); stars.textContent = T.thanks; saved = { pending: [], lastSeq: 0 }; save(); };
      stars.appendChild(b);
    })(i);
    log.appendChild(stars);
    log.scrollTop = log.scrollHeight;
  }
  panel.querySelector("#kefu-form").onsubmit = function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    var id = "w" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    saved.pending.push({ id: id, text: text }); save();
    bubble("customer", text, id, T.sending);
    if (ready) send({ type: "send", id: id, text: text });
  };
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); panel.querySelector("#kefu-send").click(); }
  });
  panel.querySelector("#kefu-close").onclick = function () { panel.classList.remove("open"); btn.style.display = ""; };
  panel.querySelector("#kefu-end").onclick = function () { send({ type: "end" }); };
  btn.onclick = function () {
    panel.classList.add("open"); btn.style.display = "none"; input.focus();
    if (!ws) connect();
  };
  if (saved.conversation) { btn.onclick(); }
})();
