// The wallboard: tiles per channel, today and this period against the contract's targets.
(function () {
  "use strict";
  var cfg = window.KEFU_BOARD, en = cfg.en;
  var board = document.getElementById("board");
  function t(zh, e) { return en ? e : zh; }
  function pct(v) { return v == null ? "—" : (v * 100).toFixed(2) + "%"; }
  function sec(v) { return v == null ? "—" : v.toFixed(2) + " s"; }
  function tile(title, big, sub, cls) {
    var d = document.createElement("div");
    d.className = "tile " + (cls || "");
    var h = document.createElement("h3"); h.textContent = title; d.appendChild(h);
    var b = document.createElement("div"); b.className = "big"; b.textContent = big; d.appendChild(b);
    if (sub) { var s = document.createElement("div"); s.className = "sub"; s.textContent = sub; d.appendChild(s); }
    return d;
  }
  var NAMES = {
    connection_rate: ["接通率", "Connection rate"],
    average_speed_of_answer: ["平均应答时间", "Average speed of answer"],
    service_level: ["服务水平", "Service level"],
    average_response_time: ["平均响应时间", "Average response time"]
  };
  function metric(m) { var n = NAMES[m]; return n ? (en ? n[1] : n[0]) : m; }
  function cls(met) { return met === true ? "met" : met === false ? "missed" : "none"; }
  function render(f) {
    document.getElementById("err").textContent = f.error || "";
    document.getElementById("at").textContent = (f.contract || "") + " · " + (f.period || "");
    board.textContent = "";
    if (f.phone) {
      var h = document.createElement("h2"); h.textContent = t("电话客服", "Phone"); board.appendChild(h);
      var g = document.createElement("div"); g.className = "grid";
      var today = f.phone.today || {};
      g.appendChild(tile(t("今日呼入 / 接通", "Today offered / answered"), (today.offered || 0) + " / " + (today.answered || 0), t("接通率 ", "connection rate ") + pct(today.connection_rate)));
      (f.phone.targets || []).forEach(function (x) {
        var budget = (f.phone.budget || []).filter(function (b) { return b.metric === x.metric; })[0];
        g.appendChild(tile(x.clause + " " + metric(x.metric), x.value_text || "—", t("目标 ", "target ") + x.target_text + (budget ? " · " + (en ? budget.text : budget.text_zh) : ""), cls(x.met)));
      });
      board.appendChild(g);
    }
    if (f.chat) {
      var h2 = document.createElement("h2"); h2.textContent = t("在线客服", "Chat"); board.appendChild(h2);
      var g2 = document.createElement("div"); g2.className = "grid";
      var c = f.chat.period || {};
      var td = f.chat.today || {};
      g2.appendChild(tile(t("今日响应时间(最近一次)", "Response time today (latest)"), sec(td.last_response_seconds),
        t("今日平均 ", "today's mean ") + sec(td.average_response_seconds) + " · " + (td.turns || 0) + t(" 个轮次", " turns")));
      g2.appendChild(tile(t("排队 / 坐席在线", "Waiting / agents connected"), f.chat.waiting + " / " + f.chat.agents_connected, t("进行中会话 ", "open conversations ") + f.chat.open_conversations));
      (c.targets || []).forEach(function (x) {
        g2.appendChild(tile(x.clause + " " + t("平均响应时间", "average response time"), sec(c.average_response_seconds), t("目标 ", "target ") + x.target_text + " · " + c.turns + t(" 个轮次", " turns"), cls(x.met)));
      });
      g2.appendChild(tile(t("会话 / 未应答", "Conversations / unanswered"), c.conversations + " / " + c.unanswered, t("平均首次响应 ", "first response ") + sec(c.average_first_response_seconds)));
      g2.appendChild(tile(t("满意度", "Satisfaction"), c.average_rating == null ? "—" : c.average_rating.toFixed(2), c.ratings + t(" 条评价", " ratings")));
      board.appendChild(g2);
    }
    renderStaffing(f);
  }
  var CH = { phone: ["电话", "Phone"], chat: ["在线客服", "Chat"], email: ["邮件", "Email"], onsite: ["上门", "On-site"] };
  function renderStaffing(f) {
    if (!f.staffing || !f.staffing.length) return;
    var h = document.createElement("h2"); h.textContent = t("人员配备(条款 2.2)", "Staffing (clause 2.2)"); board.appendChild(h);
    var g = document.createElement("div"); g.className = "grid";
    f.staffing.forEach(function (s) {
      var name = CH[s.channel] ? (en ? CH[s.channel][1] : CH[s.channel][0]) : s.channel;
      var need = s.required_agents != null ? s.required_agents : s.min_agents;
      var sub = !s.open ? t("非服务时间", "outside service hours")
        : s.not_provided_now ? t("服务时间内无人值班", "nobody on duty in service hours")
        : (s.required_agents != null ? t("本时段预测来电 ", "forecast this interval ") + s.forecast_contacts + t(" · 最少 ", " · minimum ") + s.min_agents : t("最少 ", "minimum ") + s.min_agents);
      var state = !s.open ? "none" : (s.not_provided_now || s.on_duty < need) ? "missed" : "met";
      g.appendChild(tile(name + t(" 在岗 / 需要", " on duty / required"), s.on_duty + " / " + need, sub, state));
    });
    board.appendChild(g);
  }
  var es = new EventSource(cfg.url);
  es.addEventListener("figures", function (ev) { render(JSON.parse(ev.data)); });
})();
