// The browser side of chapter 20's chat room: one WebSocket, one message per line, in both
// directions. Plain JavaScript, no build step, no framework.
//
// Every text from the room goes into the page with `textContent`, never `innerHTML`: a member
// who sends `<img src=x onerror=…>` shows those characters, and no element is ever made of them.
"use strict";

const log = document.getElementById("log");
const status = document.getElementById("status");
const form = document.getElementById("say");
const input = document.getElementById("line");
const send = document.getElementById("send");

// A tab left open for days must not grow without bound either: keep the last 500 lines.
const MAX_LINES = 500;

function show(text, kind) {
    const item = document.createElement("li");
    item.textContent = text; // text, never markup
    if (kind) item.className = kind;
    log.append(item);
    while (log.childElementCount > MAX_LINES) log.firstElementChild.remove();
    log.scrollTop = log.scrollHeight;
}

// The same host and port that served this page; `/chat` is the WebSocket endpoint.
const socket = new WebSocket(`ws://${location.host}/chat`);

socket.addEventListener("open", () => {
    status.textContent = "connected";
    input.disabled = false;
    send.disabled = false;
    input.focus();
});

socket.addEventListener("message", (event) => {
    const text = String(event.data);
    show(text, text.startsWith("* ") ? "notice" : "");
    if (text.startsWith("* hello ")) input.placeholder = "say something";
});

// A closed connection says why: the close code and reason the server sent (1001 when it shuts
// down, 1009 for a message too big), or 1006 when the connection just dropped.
socket.addEventListener("close", (event) => {
    const why = event.reason ? `: ${event.reason}` : "";
    status.textContent = `closed (${event.code}${why})`;
    input.disabled = true;
    send.disabled = true;
});

form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (text === "" || socket.readyState !== WebSocket.OPEN) return;
    socket.send(text);
    show(`> ${text}`, "mine");
    input.value = "";
});
