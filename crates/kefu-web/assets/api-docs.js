// kefu API docs: every operation of /api/openapi.json with a form to try it against this
// server. Requests carry the API token typed at the top (kept for this tab only), or, with no
// token, the browser's kefu session (reads only: writes from a page need the CSRF header).
(function () {
  "use strict";
  var root = document.getElementById("ops");
  var tokenInput = document.getElementById("token");
  try { tokenInput.value = sessionStorage.getItem("kefu-api-token") || ""; } catch (e) {}
  tokenInput.oninput = function () { try { sessionStorage.setItem("kefu-api-token", tokenInput.value.trim()); } catch (e) {} };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) e.textContent = text;
    return e;
  }
  function skeleton(schema, doc) {
    if (!schema) return null;
    if (schema.$ref) {
      var name = schema.$ref.split("/").pop();
      return skeleton(((doc.components || {}).schemas || {})[name], doc);
    }
    if (schema.example !== undefined) return schema.example;
    var type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    if (schema.enum) return schema.enum[0];
    if (type === "object") {
      var o = {};
      Object.keys(schema.properties || {}).forEach(function (k) { o[k] = skeleton(schema.properties[k], doc); });
      return o;
    }
    if (type === "array") return [];
    if (type === "boolean") return true;
    if (type === "integer" || type === "number") return 0;
    return "";
  }

  fetch("/api/openapi.json").then(function (r) { return r.json(); }).then(function (doc) {
    Object.keys(doc.paths).forEach(function (path) {
      var ops = doc.paths[path];
      Object.keys(ops).forEach(function (method) {
        var op = ops[method];
        var box = el("details", { "class": "op" });
        var sum = el("summary");
        sum.appendChild(el("code", { "class": "m " + method }, method.toUpperCase()));
        sum.appendChild(el("code", {}, " " + path + " "));
        sum.appendChild(el("span", {}, op.summary || ""));
        box.appendChild(sum);
        if (/\/ws$/.test(path)) {
          box.appendChild(el("p", {}, "A WebSocket: open it with a WebSocket client (" + (op.description || "see the summary") + ")."));
          root.appendChild(box);
          return;
        }
        var form = el("form");
        var params = op.parameters || [];
        params.forEach(function (p) {
          var label = el("label", {}, p.name + " (" + p["in"] + (p.required ? ", required" : "") + ")");
          var input = el("input", { name: "p:" + p.name, "data-in": p["in"] });
          if (p.schema && p.schema["enum"]) input.setAttribute("placeholder", p.schema["enum"].join(" | "));
          if (p.description) input.setAttribute("title", p.description);
          label.appendChild(input);
          form.appendChild(label);
        });
        var body = null;
        var content = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
        if (content) {
          body = el("textarea", { rows: "6", name: "body", "aria-label": "request body" });
          body.value = JSON.stringify(skeleton(content.schema, doc), null, 2);
          var bl = el("label", {}, "JSON body");
          bl.appendChild(body);
          form.appendChild(bl);
        }
        var send = el("button", { type: "submit" }, "Send");
        form.appendChild(send);
        var out = el("pre", { "class": "out", "aria-live": "polite" });
        form.onsubmit = function (e) {
          e.preventDefault();
          var url = path, query = [];
          params.forEach(function (p) {
            var v = form.elements["p:" + p.name].value.trim();
            if (p["in"] === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(v));
            else if (p["in"] === "query" && v) query.push(encodeURIComponent(p.name) + "=" + encodeURIComponent(v));
          });
          if (query.length) url += "?" + query.join("&");
          var headers = { "Accept": "application/json" };
          var token = tokenInput.value.trim();
          if (token) headers["Authorization"] = "Bearer " + token;
          var init = { method: method.toUpperCase(), headers: headers, credentials: "same-origin" };
          if (body) { headers["Content-Type"] = "application/json"; init.body = body.value; }
          out.textContent = init.method + " " + url + " …";
          if (/stream$/.test(path)) { out.textContent += "\n(an event stream: open " + url + " in a tab to watch it)"; return; }
          fetch(url, init).then(function (r) {
            return r.text().then(function (t) {
              var shown = t;
              try { shown = JSON.stringify(JSON.parse(t), null, 2); } catch (x) {}
              out.textContent = init.method + " " + url + "\n" + r.status + " " + r.statusText + "  " + (r.headers.get("content-type") || "") + "\n\n" + shown;
            });
          }).catch(function (err) { out.textContent = String(err); });
        };
        box.appendChild(form);
        box.appendChild(out);
        root.appendChild(box);
      });
    });
  });
})();
