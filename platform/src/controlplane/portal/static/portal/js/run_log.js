// The run page's log viewer: a live tail while the run is not over, filters by task and level, a search,
// "jump to the first error" and a download link that carries the filters. Vanilla JS; no asset comes from a CDN.
// Lines are inserted as text (never as HTML): they are the workflow's output.
(function () {
  "use strict";

  var POLL_MS = 1000;
  var list = document.getElementById("log-lines");
  if (!list) {
    return;
  }
  var taskSelect = document.getElementById("log-task");
  var levelSelect = document.getElementById("log-level");
  var search = document.getElementById("log-search");
  var follow = document.getElementById("log-follow");
  var status = document.getElementById("log-status");
  var download = document.getElementById("log-download");
  var firstError = document.getElementById("log-first-error");
  var after = parseInt(list.getAttribute("data-after"), 10) || 0;
  var live = list.getAttribute("data-live") === "true";
  var jsonUrl = list.getAttribute("data-json-url");

  function matches(item) {
    var task = taskSelect.value;
    var level = levelSelect.value;
    var text = search.value.toLowerCase();
    if (task && item.getAttribute("data-task") !== task) {
      return false;
    }
    if (level && item.getAttribute("data-level") !== level) {
      return false;
    }
    if (text) {
      var message = item.querySelector(".message");
      return message !== null && message.textContent.toLowerCase().indexOf(text) !== -1;
    }
    return true;
  }

  function applyFilters() {
    var items = list.querySelectorAll("li[data-seq]");
    var shown = 0;
    for (var i = 0; i < items.length; i++) {
      var visible = matches(items[i]);
      items[i].hidden = !visible;
      shown += visible ? 1 : 0;
    }
    var params = new URLSearchParams();
    if (taskSelect.value) { params.set("task", taskSelect.value); }
    if (levelSelect.value) { params.set("level", levelSelect.value); }
    if (search.value) { params.set("q", search.value); }
    var query = params.toString();
    download.href = download.getAttribute("data-base") + (query ? "?" + query : "");
    return shown;
  }

  function span(className, text) {
    var element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function lineItem(line) {
    var item = document.createElement("li");
    item.id = "line-" + line.seq;
    item.setAttribute("data-seq", String(line.seq));
    item.setAttribute("data-task", line.task_key || "");
    item.setAttribute("data-level", (line.level || "").toUpperCase());
    if (line.error) {
      item.setAttribute("data-error", "true");
      item.className = "error-line";
    }
    var time = document.createElement("time");
    time.setAttribute("datetime", line.at);
    time.textContent = line.at.substring(11, 19);
    item.appendChild(span("seq", String(line.seq)));
    item.appendChild(document.createTextNode(" "));
    item.appendChild(time);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(span("stream", line.stream));
    if (line.level) {
      item.appendChild(document.createTextNode(" "));
      item.appendChild(span("level", line.level));
    }
    if (line.task_key) {
      item.appendChild(document.createTextNode(" "));
      item.appendChild(span("task", "[" + line.task_key + "]"));
    }
    item.appendChild(document.createTextNode(" "));
    item.appendChild(span("message", line.message));
    item.hidden = !matches(item);
    return item;
  }

  function addTaskOption(key) {
    if (!key) { return; }
    for (var i = 0; i < taskSelect.options.length; i++) {
      if (taskSelect.options[i].value === key) { return; }
    }
    var option = document.createElement("option");
    option.value = key;
    option.textContent = key;
    taskSelect.appendChild(option);
  }

  function append(lines) {
    if (!lines.length) { return; }
    var empty = list.querySelector("li.empty");
    if (empty) { empty.remove(); }
    var fragment = document.createDocumentFragment();
    lines.forEach(function (line) {
      fragment.appendChild(lineItem(line));
      addTaskOption(line.task_key);
      if (line.error && firstError === null) {
        firstError = document.createElement("a");
        firstError.id = "log-first-error";
        firstError.href = "#line-" + line.seq;
        firstError.setAttribute("data-seq", String(line.seq));
        firstError.textContent = "Jump to the first error";
        firstError.addEventListener("click", jumpToFirstError);
        var none = document.querySelector("[data-testid=no-error]");
        if (none) { none.replaceWith(firstError); }
      }
    });
    list.appendChild(fragment);
    if (follow.checked) {
      list.scrollTop = list.scrollHeight;
    }
  }

  function poll() {
    fetch(jsonUrl + "?after=" + after, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (page) {
        append(page.lines);
        after = page.next_after;
        if (page.done) {
          status.textContent = "The run is " + page.run_state + "; every line is shown. Reload the page for the final " +
            "task graph and timeline.";
          return;
        }
        status.textContent = "Following the log while the run is " + page.run_state + ".";
        window.setTimeout(poll, page.lines.length ? 0 : POLL_MS);
      })
      .catch(function (error) {
        status.textContent = "Could not fetch new lines (" + error.message + "); trying again.";
        window.setTimeout(poll, POLL_MS * 5);
      });
  }

  function jumpToFirstError(event) {
    var seq = firstError.getAttribute("data-seq");
    var target = document.getElementById("line-" + seq);
    if (target === null) {
      return; // not loaded here: the link opens the page at that line
    }
    event.preventDefault();
    target.hidden = false;
    target.setAttribute("tabindex", "-1");
    target.scrollIntoView({block: "center"});
    target.focus();
  }

  taskSelect.addEventListener("change", applyFilters);
  levelSelect.addEventListener("change", applyFilters);
  search.addEventListener("input", applyFilters);
  if (firstError !== null) {
    firstError.addEventListener("click", jumpToFirstError);
  }
  applyFilters();
  if (follow.checked) {
    list.scrollTop = list.scrollHeight;
  }
  if (live) {
    window.setTimeout(poll, POLL_MS);
  }
})();
