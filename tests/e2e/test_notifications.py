"""Unread notification counts and GET /notifications (spec "Push Notifications" > "Receiving
notifications", "Listing notifications"): push rules applied to each event as it is stored, counts
in /sync reset by the user's read receipt, per-thread counts, and the notifications list."""

import time

from harness import e2e_test, expect, expect_eq, expect_error, expect_ok, q


def send_content(user, room, content, event_type="m.room.message"):
    txn = f"n{time.monotonic_ns()}"
    return expect_ok(user.put(f"/rooms/{q(room)}/send/{q(event_type)}/{q(txn)}", content),
                     f"send {content}")["event_id"]


def unread(sync, room):
    return sync["rooms"]["join"][room]["unread_notifications"]


def counts(notify, highlight):
    return {"notification_count": notify, "highlight_count": highlight}


def receipt(user, room, event_id, thread_id=None, kind="m.read"):
    body = {} if thread_id is None else {"thread_id": thread_id}
    expect_ok(user.post(f"/rooms/{q(room)}/receipt/{kind}/{q(event_id)}", body), "receipt")


def two_in_a_room(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    return alice, bob, room


@e2e_test
def unread_counts_follow_messages_and_receipts(ctx):
    alice, bob, room = two_in_a_room(ctx)
    expect_eq(unread(alice.sync(), room), counts(0, 0), "nothing unread at first")
    head = alice.sync()["next_batch"]
    # A one-to-one room: .m.rule.room_one_to_one notifies for every message.
    bob.send(room, "hello")
    resp = alice.sync(since=head)
    expect_eq(unread(resp, room), counts(1, 0), "one message")
    head = resp["next_batch"]
    # A mention of alice highlights (.m.rule.is_user_mention).
    mention = send_content(bob, room, {"msgtype": "m.text", "body": "hey alice",
                                       "m.mentions": {"user_ids": [alice.user_id]}})
    resp = alice.sync(since=head)
    expect_eq(unread(resp, room), counts(2, 1), "a mention highlights")
    head = resp["next_batch"]
    # The sender's own messages never count for them.
    expect_eq(unread(bob.sync(), room), counts(0, 0), "bob's own messages")
    # Initial sync shows the same counts.
    expect_eq(unread(alice.sync(), room), counts(2, 1), "initial sync")
    # Reading up to the first message leaves the mention unread.
    first_id = alice.messages(room, dir="b", limit=2)["chunk"][1]["event_id"]
    receipt(alice, room, first_id)
    resp = alice.sync(since=head)
    expect_eq(unread(resp, room), counts(1, 1), "after reading the first message")
    head = resp["next_batch"]
    # A private receipt on the newest event resets the counts too.
    receipt(alice, room, mention, kind="m.read.private")
    resp = alice.sync(since=head)
    expect_eq(unread(resp, room), counts(0, 0), "after reading everything")
    # A receipt going back doesn't bring notifications back.
    receipt(alice, room, first_id)
    expect_eq(unread(alice.sync(), room), counts(0, 0), "an older receipt is ignored")


@e2e_test
def unread_counts_follow_push_rules(ctx):
    alice, bob, room = two_in_a_room(ctx)
    # A room rule without actions: messages there no longer notify alice.
    expect_ok(alice.put(f"/pushrules/global/room/{q(room)}", {"actions": []}), "room rule")
    bob.send(room, "quiet")
    expect_eq(unread(alice.sync(), room), counts(0, 0), "muted room")
    # Disabling the rule again: the next message counts (the writer's cached
    # rules follow the change).
    expect_ok(alice.put(f"/pushrules/global/room/{q(room)}/enabled", {"enabled": False}),
              "disable room rule")
    bob.send(room, "loud")
    expect_eq(unread(alice.sync(), room), counts(1, 0), "rule disabled")
    # A content rule with a highlight tweak.
    expect_ok(alice.put("/pushrules/global/content/cheese",
                        {"pattern": "cheese", "actions": ["notify", {"set_tweak": "highlight"}]}),
              "content rule")
    bob.send(room, "who wants cheese?")
    expect_eq(unread(alice.sync(), room), counts(2, 1), "content rule highlights")
    # In a room with three members the one-to-one rule no longer applies: a
    # plain message there does not notify (the default .m.rule.message does, without sound).
    carol = ctx.user()
    carol.join(room)
    before = unread(alice.sync(), room)
    bob.send(room, "plain")
    after = unread(alice.sync(), room)
    expect_eq(after["notification_count"], before["notification_count"] + 1,
              ".m.rule.message notifies in a larger room")


@e2e_test
def unread_thread_counts(ctx):
    alice, bob, room = two_in_a_room(ctx)
    root = alice.send(room, "thread root")
    main_msg = bob.send(room, "main timeline")
    reply = send_content(bob, room, {"msgtype": "m.text", "body": "in the thread",
                                     "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    threaded = {"room": {"timeline": {"unread_thread_notifications": True}}}
    resp = alice.sync(filter=threaded)
    entry = resp["rooms"]["join"][room]
    expect_eq(entry["unread_notifications"], counts(1, 0), "main timeline count without threads")
    expect_eq(entry["unread_thread_notifications"], {root: counts(1, 0)}, "the thread's count")
    # Without the filter flag, everything is in one count.
    expect_eq(unread(alice.sync(), room), counts(2, 0), "unthreaded total")
    # A receipt in the thread reads the thread only.
    receipt(alice, room, reply, thread_id=root)
    entry = alice.sync(filter=threaded)["rooms"]["join"][room]
    expect_eq(entry["unread_notifications"], counts(1, 0), "main still unread")
    expect_eq(entry["unread_thread_notifications"], {}, "thread read")
    receipt(alice, room, main_msg, thread_id="main")
    entry = alice.sync(filter=threaded)["rooms"]["join"][room]
    expect_eq(entry["unread_notifications"], counts(0, 0), "main read")


@e2e_test
def notifications_list(ctx):
    alice, bob, room = two_in_a_room(ctx)
    ids = [bob.send(room, f"message {i}") for i in range(5)]
    mention = send_content(bob, room, {"msgtype": "m.text", "body": "ping",
                                       "m.mentions": {"user_ids": [alice.user_id]}})
    receipt(alice, room, ids[1])
    got = expect_ok(alice.get("/notifications"), "GET /notifications")
    notes = got["notifications"]
    expect_eq([n["event"]["event_id"] for n in notes], [mention] + ids[::-1], "newest first")
    for n in notes:
        expect_eq(n["room_id"], room, "room_id")
        expect(isinstance(n["ts"], int), "ts")
        expect("notify" in n["actions"], f"actions: {n['actions']}")
        expect_eq(n["event"]["content"]["body"] != "", True, "the event's content")
    expect_eq([n["read"] for n in notes], [False, False, False, False, True, True],
              "read up to the receipt")
    expect("next_token" not in got, "no more pages")
    # Pages.
    page = expect_ok(alice.get("/notifications", query={"limit": "2"}), "page 1")
    expect_eq([n["event"]["event_id"] for n in page["notifications"]], [mention, ids[4]], "page 1")
    page2 = expect_ok(alice.get("/notifications", query={"limit": "2",
                                                          "from": page["next_token"]}), "page 2")
    expect_eq([n["event"]["event_id"] for n in page2["notifications"]], [ids[3], ids[2]], "page 2")
    # Highlights only.
    hl = expect_ok(alice.get("/notifications", query={"only": "highlight"}), "only=highlight")
    expect_eq([n["event"]["event_id"] for n in hl["notifications"]], [mention], "highlights")
    # Nothing for bob (his own messages), and errors.
    expect_eq(expect_ok(bob.get("/notifications"), "bob")["notifications"], [], "bob has none")
    expect_error(alice.get("/notifications", query={"from": "nonsense"}), 400, "M_INVALID_PARAM",
                 "bad from")
    expect_error(alice.get("/notifications", query={"limit": "-1"}), 400, "M_INVALID_PARAM",
                 "bad limit")
    expect_error(ctx.api.get("/notifications"), 401, "M_MISSING_TOKEN", "no token")


@e2e_test
def invites_notify_the_invitee(ctx):
    alice, bob = ctx.user(), ctx.user()
    room = bob.create_room(preset="private_chat")
    bob.invite(room, alice)
    notes = expect_ok(alice.get("/notifications"), "GET /notifications")["notifications"]
    expect_eq(len(notes), 1, f"the invite notifies: {notes}")
    expect_eq(notes[0]["event"]["type"], "m.room.member", "an invite")
    expect_eq(notes[0]["event"]["state_key"], alice.user_id, "for alice")
