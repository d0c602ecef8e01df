"""Room versions 1 to 11 (issue 12): /capabilities lists them, /createRoom makes rooms in each,
and everything in such a room works with that version's event format; and state events that
change nothing are not sent again."""

import re

from harness import SERVER_NAME, e2e_test, expect, expect_eq, expect_error, expect_ok, q

VERSIONS = [str(n) for n in range(1, 12)]

# rooms/fragments/v1-event-ids ("$opaque:server"); rooms/v3 (standard unpadded base64 of the
# 32-byte reference hash); rooms/fragments/v4-event-ids (URL-safe).
ID_FORMATS = {
    "v1": re.compile(r"^\$[A-Za-z]+:" + re.escape(SERVER_NAME) + r"$"),
    "v3": re.compile(r"^\$[A-Za-z0-9+/]{43}$"),
    "v4": re.compile(r"^\$[A-Za-z0-9_-]{43}$"),
}


def id_format(version):
    return "v1" if int(version) <= 2 else "v3" if version == "3" else "v4"


def expect_id(version, event_id, what):
    expect(ID_FORMATS[id_format(version)].match(event_id or "") is not None,
           f"room v{version}: {what} has event id {event_id!r}, not the {id_format(version)} format")


def put_state(user, room, event_type, content, state_key=""):
    path = f"/rooms/{q(room)}/state/{q(event_type)}"
    if state_key:
        path += f"/{q(state_key)}"
    return expect_ok(user.put(path, content), f"PUT state {event_type}")["event_id"]


@e2e_test
def capabilities_list_every_version(ctx):
    alice = ctx.user()
    versions = expect_ok(alice.get("/capabilities"))["capabilities"]["m.room_versions"]
    expect_eq(versions["available"], {v: "stable" for v in VERSIONS}, "m.room_versions.available")
    expect_eq(versions["default"], "11", "m.room_versions.default")
    for bad in ("12", "0", "org.matrix.msc2176", ""):
        expect_error(alice.post("/createRoom", {"room_version": bad}), 400,
                     "M_UNSUPPORTED_ROOM_VERSION", f"createRoom with room_version {bad!r}")


@e2e_test
def rooms_in_every_version(ctx):
    alice, bob = ctx.user(), ctx.user()
    for version in VERSIONS:
        room = alice.create_room(preset="public_chat", room_version=version, name=f"v{version}")
        state = {(e["type"], e["state_key"]): e for e in alice.state(room)}
        create = state[("m.room.create", "")]
        expect_eq(create["content"].get("room_version"), version, "m.room.create room_version")
        expect_eq(create["content"].get("creator"), alice.user_id if int(version) <= 10 else None,
                  f"v{version} m.room.create creator")
        for event in state.values():
            expect_id(version, event["event_id"], event["type"])

        message = alice.send(room, f"hello v{version}")
        expect_id(version, message, "a message")
        topic = put_state(alice, room, "m.room.topic", {"topic": f"about v{version}"})
        expect_id(version, topic, "m.room.topic")
        got = expect_ok(alice.get(f"/rooms/{q(room)}/event/{q(topic)}"), "GET /event topic")
        expect_eq(got["content"], {"topic": f"about v{version}"}, f"v{version} topic by /event")

        reply = expect_ok(alice.put(f"/rooms/{q(room)}/redact/{q(message)}/r{version}",
                                    {"reason": "gone"}), f"v{version} redact")
        redaction = reply["event_id"]
        expect_id(version, redaction, "m.room.redaction")
        redacted = expect_ok(alice.get(f"/rooms/{q(room)}/event/{q(message)}"), "GET redacted")
        expect_eq(redacted["content"], {}, f"v{version} redacted content")
        expect_eq(redacted["unsigned"].get("redacted_because", {}).get("event_id"), redaction,
                  f"v{version} redacted_because")

        expect_eq(bob.join(room), room, f"v{version} join")
        said = bob.send(room, f"bob in v{version}")
        expect_id(version, said, "bob's message")
        expect_ok(alice.post(f"/rooms/{q(room)}/kick", {"user_id": bob.user_id}), f"v{version} kick")
        expect_error(bob.put(f"/rooms/{q(room)}/send/m.room.message/after{version}",
                             {"msgtype": "m.text", "body": "still here?"}),
                     403, "M_FORBIDDEN", f"v{version} message after a kick")

        timeline = alice.sync()["rooms"]["join"][room]["timeline"]["events"]
        by_id = {e["event_id"]: e for e in timeline}
        for event_id in (topic, redaction, said):
            expect(event_id in by_id, f"v{version}: {event_id} missing from /sync")
        for event in timeline:
            expect_id(version, event["event_id"], f"/sync {event['type']}")
        expect_eq(by_id[said]["content"].get("body"), f"bob in v{version}", "bob's message in /sync")
        kicks = [e for e in timeline if e["type"] == "m.room.member" and
                 e["state_key"] == bob.user_id and e["content"].get("membership") == "leave"]
        expect(len(kicks) == 1 and kicks[0]["sender"] == alice.user_id, f"v{version} kick in /sync")
        red = by_id[redaction]
        expect(message in (red.get("redacts"), red.get("content", {}).get("redacts")),
               f"v{version} redaction names its event: {red}")


@e2e_test
def unchanged_state_is_not_sent_again(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat",
                             power_level_content_override={"users": {alice.user_id: 100,
                                                                     bob.user_id: 50}})
    bob.join(room)
    first = put_state(alice, room, "m.room.topic", {"topic": "same"})
    again = put_state(alice, room, "m.room.topic", {"topic": "same"})
    expect_eq(again, first, "the same state again returns the existing event id")
    custom = put_state(alice, room, "com.example.thing", {"a": [1, 2]}, state_key="k")
    expect_eq(put_state(alice, room, "com.example.thing", {"a": [1, 2]}, state_key="k"), custom,
              "the same custom state again")

    changed = put_state(alice, room, "m.room.topic", {"topic": "different"})
    expect(changed != first, "different content makes a new event")
    by_bob = put_state(bob, room, "m.room.topic", {"topic": "different"})
    expect(by_bob != changed, "the same content from another sender makes a new event")

    chunk = alice.messages(room, limit=100)["chunk"]
    topics = [e["event_id"] for e in chunk if e["type"] == "m.room.topic"]
    expect_eq(sorted(topics), sorted([first, changed, by_bob]), "m.room.topic events in /messages")
    things = [e for e in chunk if e["type"] == "com.example.thing"]
    expect_eq(len(things), 1, "com.example.thing events in /messages")
    # As in Synapse's update_membership, a membership that is already so is not sent again.
    bob.join(room)
    joins = [e for e in alice.messages(room, limit=100)["chunk"]
             if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
    expect_eq(len(joins), 1, "bob's membership events after joining twice")
    current = expect_ok(alice.get(f"/rooms/{q(room)}/state/m.room.topic"))
    expect_eq(current, {"topic": "different"}, "current topic")
