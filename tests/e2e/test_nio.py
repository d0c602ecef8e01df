"""A real Matrix client (matrix-nio 0.20, Debian's python3-matrix-nio) against Axon.

nio speaks the r0 API (/_matrix/client/r0), registers with a one-shot m.login.dummy auth and
validates every response against its own JSON schemas, so a reply a real client cannot parse
fails here even when its status is right.
"""

import asyncio
import time

import nio

from harness import SERVER_NAME, e2e_test, expect, expect_eq, unique

PASSWORD = "nio-password-1"
WAKE_UP_LIMIT_S = 1.0  # a long-polling /sync must return within this of a send


def client_config():
    # No end-to-end encryption store; surface rate limits and timeouts instead of retrying.
    return nio.AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False,
                                 max_limit_exceeded=0, max_timeouts=0, request_timeout=60)


def ok(resp, kind, what):
    expect(isinstance(resp, kind), f"{what}: expected {kind.__name__}, got {resp!r}")
    return resp


async def register_and_login(url, localpart=None):
    """Registers with nio, then logs in on a second client (a new device); returns that client."""
    localpart = localpart or unique("nio")
    registrar = nio.AsyncClient(url, config=client_config())
    try:
        reply = ok(await registrar.register(localpart, PASSWORD, "nio-registrar"),
                   nio.RegisterResponse, f"register {localpart}")
        expect_eq(reply.user_id, f"@{localpart}:{SERVER_NAME}", "registered user_id")
        expect(reply.access_token.startswith("syt_"), f"access token {reply.access_token!r}")
    finally:
        await registrar.close()
    return await login(url, f"@{localpart}:{SERVER_NAME}")


async def login(url, user_id):
    client = nio.AsyncClient(url, user_id, config=client_config())
    reply = ok(await client.login(PASSWORD, device_name="nio-e2e"), nio.LoginResponse, f"login {user_id}")
    expect_eq(reply.user_id, user_id, "login user_id")
    expect(client.logged_in and client.device_id, "nio client not logged in")
    return client


def room_texts(sync_resp, room_id):
    """(sender, body) of the m.text messages in a sync response's timeline for one room."""
    room = sync_resp.rooms.join.get(room_id)
    if room is None:
        return []
    return [(e.sender, e.body) for e in room.timeline.events if isinstance(e, nio.RoomMessageText)]


async def send_text(client, room_id, body):
    resp = ok(await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body}),
              nio.RoomSendResponse, f"send {body!r}")
    return resp.event_id


async def shared_room(url):
    """Alice and Bob, logged in, both joined to a private room Alice made and invited Bob to."""
    alice = await register_and_login(url)
    bob = await register_and_login(url)
    created = ok(await alice.room_create(name="nio room", topic="testing"), nio.RoomCreateResponse,
                 "room_create")
    room_id = created.room_id
    ok(await alice.room_invite(room_id, bob.user_id), nio.RoomInviteResponse, "room_invite")
    first = ok(await bob.sync(timeout=0), nio.SyncResponse, "bob's first sync")
    expect(room_id in first.rooms.invite, f"bob's sync does not show the invite: {first.rooms.invite}")
    ok(await bob.join(room_id), nio.JoinResponse, "join")
    ok(await alice.sync(timeout=0), nio.SyncResponse, "alice's first sync")
    return alice, bob, room_id


async def close_all(*clients):
    for c in clients:
        await c.close()


@e2e_test
async def nio_conversation(ctx):
    alice, bob, room_id = await shared_room(ctx.url)
    fresh = []
    try:
        await send_text(alice, room_id, "hello bob")
        await send_text(bob, room_id, "hello alice")

        # Incremental sync: each sees the other's message, exactly once.
        for me, other, body in ((alice, bob, "hello alice"), (bob, alice, "hello bob")):
            resp = ok(await me.sync(timeout=0), nio.SyncResponse, f"incremental sync of {me.user_id}")
            texts = room_texts(resp, room_id)
            expect_eq(texts.count((other.user_id, body)), 1, f"{me.user_id} sees {body!r} once in {texts}")
            again = ok(await me.sync(timeout=0), nio.SyncResponse, "second incremental sync")
            expect_eq(room_texts(again, room_id), [], f"{me.user_id}: nothing new on the next sync")

        # Initial sync on new devices: both messages, in order, with the room's state.
        for user in (alice, bob):
            client = await login(ctx.url, user.user_id)
            fresh.append(client)
            resp = ok(await client.sync(timeout=0), nio.SyncResponse, f"initial sync of {user.user_id}")
            bodies = [b for _, b in room_texts(resp, room_id)]
            expect_eq(bodies, ["hello bob", "hello alice"], f"initial sync of {user.user_id}")
            expect(client.rooms[room_id].name == "nio room", f"room name: {client.rooms[room_id].name}")
            expect(set(client.rooms[room_id].users) == {alice.user_id, bob.user_id},
                   f"members: {list(client.rooms[room_id].users)}")

        # Long poll: Bob waits in /sync; Alice sends; Bob's sync must return within a second.
        latencies = []
        for i in range(3):
            latencies.append(await long_poll_once(alice, bob, room_id, f"wake up {i}"))
        print(f"    long-poll wake-up: {', '.join(f'{s * 1000:.0f} ms' for s in latencies)}")
        expect(max(latencies) < WAKE_UP_LIMIT_S,
               f"sync woke {max(latencies):.3f} s after the send (limit {WAKE_UP_LIMIT_S} s)")
    finally:
        await close_all(alice, bob, *fresh)


async def long_poll_once(sender, waiter, room_id, body):
    """Starts a 30 s /sync for `waiter`, then sends `body`; returns seconds from send to wake-up."""
    task = asyncio.ensure_future(waiter.sync(timeout=30000))
    await asyncio.sleep(0.3)  # let the request reach the server and park
    early = task.done()
    t0 = time.monotonic()
    await send_text(sender, room_id, body)
    deadline = t0 + 10
    while True:
        resp = ok(await asyncio.wait_for(task, max(0.1, deadline - time.monotonic())),
                  nio.SyncResponse, "long-poll sync")
        if any(b == body for _, b in room_texts(resp, room_id)):
            return time.monotonic() - t0
        # Woken by something else (or it returned before the send): poll again from the new token.
        expect(time.monotonic() < deadline, f"{body!r} did not arrive within 10 s (early={early})")
        task = asyncio.ensure_future(waiter.sync(timeout=30000))


@e2e_test
async def nio_pagination_of_200_messages(ctx):
    alice, bob, room_id = await shared_room(ctx.url)
    try:
        sent = [f"page {i:03d}" for i in range(200)]
        ids = [await send_text(alice, room_id, body) for body in sent]
        head = ok(await bob.sync(timeout=0), nio.SyncResponse, "sync").next_batch

        seen, token = [], head
        for _ in range(40):
            page = ok(await bob.room_messages(room_id, token, direction=nio.MessageDirection.back,
                                              limit=30), nio.RoomMessagesResponse, "room_messages")
            seen += page.chunk
            if page.end is None or not page.chunk and page.end == token:
                break
            token = page.end
        got = [(e.event_id, e.body) for e in seen if isinstance(e, nio.RoomMessageText)]
        got_ids = [i for i, _ in got]
        expect_eq(len(got_ids), len(set(got_ids)), "duplicates while paginating back")
        expect_eq([b for _, b in reversed(got)], sent, "200 messages back, none lost or out of order")
        expect_eq(list(reversed(got_ids)), ids, "event ids match the sends")

        fwd = ok(await bob.room_messages(room_id, token, direction=nio.MessageDirection.front, limit=500),
                 nio.RoomMessagesResponse, "room_messages forwards")
        fwd_bodies = [e.body for e in fwd.chunk if isinstance(e, nio.RoomMessageText)]
        expect(len(fwd_bodies) >= 170, f"forwards from the oldest token: only {len(fwd_bodies)} messages")
        expect_eq(fwd_bodies, sent[-len(fwd_bodies):] if fwd_bodies else [],
                  "forwards from the oldest token: chronological")
    finally:
        await close_all(alice, bob)


@e2e_test
async def nio_redact_and_leave(ctx):
    alice, bob, room_id = await shared_room(ctx.url)
    try:
        secret = await send_text(alice, room_id, "regrettable")
        await send_text(alice, room_id, "fine")
        resp = ok(await bob.sync(timeout=0), nio.SyncResponse, "sync")
        expect(("regrettable" in [b for _, b in room_texts(resp, room_id)]), "bob sees the message")

        ok(await alice.room_redact(room_id, secret, reason="typo"), nio.RoomRedactResponse, "room_redact")
        got = ok(await bob.room_get_event(room_id, secret), nio.RoomGetEventResponse, "room_get_event")
        expect_eq(got.event.source.get("content"), {}, "content of the redacted event via /event")
        expect(isinstance(got.event, nio.RedactedEvent), f"nio sees a RedactedEvent: {got.event!r}")
        ok(await bob.sync(timeout=0), nio.SyncResponse, "sync after the redaction")
        page = ok(await bob.room_messages(room_id, bob.next_batch, limit=10), nio.RoomMessagesResponse,
                  "room_messages")
        by_id = {e.event_id: e for e in page.chunk}
        expect(secret in by_id, "redacted event missing from /messages")
        expect_eq(by_id[secret].source.get("content"), {}, "content of the redacted event via /messages")
        expect(any(isinstance(e, nio.RedactionEvent) and e.redacts == secret for e in page.chunk),
               "the m.room.redaction event is in /messages")

        ok(await bob.room_leave(room_id), nio.RoomLeaveResponse, "room_leave")
        rooms = ok(await bob.joined_rooms(), nio.JoinedRoomsResponse, "joined_rooms").rooms
        expect(room_id not in rooms, f"left room still in joined_rooms: {rooms}")
        # nio's schema requires every member to carry display_name (null when unset), as Synapse does.
        members = ok(await alice.joined_members(room_id), nio.JoinedMembersResponse,
                     "joined_members (nio needs a display_name key, null allowed, for each member)")
        expect_eq([m.user_id for m in members.members], [alice.user_id], "members after bob left")
        resp = ok(await bob.sync(timeout=0), nio.SyncResponse, "sync after leaving")
        expect(room_id in resp.rooms.leave, f"left room not in rooms.leave: {list(resp.rooms.leave)}")
        after = ok(await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "bye"}),
                   nio.RoomSendResponse, "alice still sends")
        expect(after.event_id.startswith("$"), "event id")
        refused = await bob.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "back?"})
        expect(isinstance(refused, nio.RoomSendError) and refused.status_code == "M_FORBIDDEN",
               f"sending after leaving must be M_FORBIDDEN: {refused!r}")
    finally:
        await close_all(alice, bob)


@e2e_test
async def nio_lists_and_deletes_devices(ctx):
    # nio parses a device list only when every device carries display_name, last_seen_ip and
    # last_seen_ts; deleting one goes through user-interactive auth with the password.
    localpart = unique("nio")
    first = await register_and_login(ctx.url, localpart)
    second = await login(ctx.url, first.user_id)
    try:
        listed = ok(await first.devices(), nio.DevicesResponse, "devices")
        ids = {d.id for d in listed.devices}
        expect({first.device_id, second.device_id} <= ids, f"both logins listed: {ids}")
        mine = [d for d in listed.devices if d.id == first.device_id][0]
        expect_eq(mine.last_seen_ip, "127.0.0.1", "the device's last_seen_ip")
        expect(mine.last_seen_date is not None, "the device's last_seen_ts")
        challenge = ok(await first.delete_devices([second.device_id]), nio.DeleteDevicesAuthResponse,
                       "delete_devices without auth")
        auth = {"type": "m.login.password", "session": challenge.session, "password": PASSWORD,
                "identifier": {"type": "m.id.user", "user": first.user_id}}
        ok(await first.delete_devices([second.device_id], auth=auth), nio.DeleteDevicesResponse,
           "delete_devices with the password")
        after = ok(await first.devices(), nio.DevicesResponse, "devices after deletion")
        expect_eq({d.id for d in after.devices} & {second.device_id}, set(), "the deleted device is gone")
    finally:
        await close_all(first, second)
