// Chat with the order-status agent on the tracking page (templates/track/_chat.html).
// Progressive enhancement: the block is hidden in the HTML and shown only here, so the
// page without JavaScript is unchanged. It talks only to this site's conversation API,
// puts replies in an aria-live log as text (never as HTML), and is usable by keyboard.
(function () {
  "use strict";
  var box = document.getElementById("chat");
  if (!box || !window.fetch || !window.JSON) return;
  var d = box.dataset;
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var send = document.getElementById("chat-send");
  var id = null;
  var busy = false;

  // `before`: the greeting arrives after the first message is shown, and goes above it.
  function add(who, text, before) {
    var p = document.createElement("p");
    p.className = "chat-" + who;
    p.style.margin = "6px 0";
    var label = document.createElement("strong");
    label.className = "chat-who";
    label.textContent = (who === "you" ? d.tYou : d.tAgent) + ": ";
    p.appendChild(label);
    p.appendChild(document.createTextNode(text));
    log.insertBefore(p, before || null);
    log.scrollTop = log.scrollHeight;
    return p;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify(body),
      credentials: "same-origin"
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function textOf(data) {
    var reply = data && data.reply;
    if (reply && typeof reply === "object") return reply.text || "";
    return typeof reply === "string" ? reply : "";
  }

  function start(first) {
    if (id) return Promise.resolve(id);
    var body = {store: d.store, channel: "chat", language: d.lang};
    // On an order page: its signed link, so the agent already knows the order.
    if (d.link) body.link = d.link;
    return post(d.api, body).then(function (data) {
      id = data.conversation_id || data.id;
      var greeting = textOf(data);
      if (greeting) add("agent", greeting, first);
      return id;
    });
  }

  function done(ended) {
    busy = false;
    send.disabled = false;
    input.disabled = !!ended;
    if (!ended) input.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.replace(/^\s+|\s+$/g, "");
    if (!text || busy) return;
    busy = true;
    send.disabled = true;
    var mine = add("you", text);
    input.value = "";
    start(mine)
      .then(function (cid) {
        return post(d.api + "/" + encodeURIComponent(cid) + "/turns", {text: text});
      })
      .then(function (data) {
        add("agent", textOf(data));
        done(data.ended);
      })
      .catch(function (err) {
        if (String(err && err.message) === "HTTP 404") id = null;  // expired: start anew
        add("agent", d.tError);
        done(false);
      });
  });

  box.hidden = false;
})();
