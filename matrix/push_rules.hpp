// matrix/push_rules.hpp -- push rules: the server-default rules, the user's
// stored rules merged onto them, validation of PUT /pushrules/..., and the
// evaluation of a ruleset against an event.
// Spec: client-server API "Push Notifications" (modules/push.md, v1.7+:
// event_property_is / event_property_contains, .m.rule.is_user_mention,
// .m.rule.is_room_mention; v1.9: .m.rule.suppress_edits),
// data/api/client-server/pushrules.yaml; appendices "Glob-style matching" and
// "Dot-separated property paths". Evaluation order and the legacy-mention
// exception follow Synapse (rust/src/push/evaluator.rs, base_rules.rs).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace axon::matrix {

/// The rule kinds, in the order they are evaluated.
enum class push_rule_kind { override_rule, content, room, sender, underride };

/// "override", "content", "room", "sender", "underride".
std::string_view to_string(push_rule_kind kind);
/// The kind named by a path segment of /pushrules/global/{kind}/...; nullopt
/// for anything else.
std::optional<push_rule_kind> parse_push_rule_kind(std::string_view name);

/// One user-defined rule as stored, already validated by `parse_push_rule`.
struct push_rule {
  std::string rule_id;
  bool enabled = true;                                  ///< new rules are enabled (spec)
  nlohmann::json actions = nlohmann::json::array();     ///< legacy dont_notify/coalesce stripped
  /// override/underride only: the conditions array (unknown kinds kept; they
  /// never match). Null for the other kinds.
  nlohmann::json conditions;
  std::string pattern;                                  ///< content rules only
};

/// A user's stored push rules: custom rules per kind, highest priority
/// first, and the user's overrides of server-default rules.
struct user_push_rules {
  std::vector<push_rule> override_rules, content, room, sender, underride;
  /// Server-default rule_id -> enabled, for defaults the user toggled.
  std::map<std::string, bool> default_enabled;
  /// Server-default rule_id -> actions, for defaults whose actions the user set.
  std::map<std::string, nlohmann::json> default_actions;

  std::vector<push_rule>& rules(push_rule_kind kind);
  const std::vector<push_rule>& rules(push_rule_kind kind) const;
};

/// The spec's server-default rules for `user_id` (a full user ID) in the
/// format of GET /pushrules/: {"global": {"override": [...], "content": [...],
/// "room": [], "sender": [], "underride": [...]}}, every rule with rule_id,
/// "default": true, enabled, actions and conditions (override/underride) or
/// pattern (content). .m.rule.master is the only one disabled.
nlohmann::json default_push_rules(const std::string& user_id);

/// The full ruleset of GET /pushrules/ (and of the m.push_rules account data):
/// the defaults with the user's enabled/actions overrides applied, and the
/// user's rules placed by the spec's precedence ("Predefined Rules"):
/// override = .m.rule.master, user override rules, the other default
/// overrides; content = user rules, then defaults; room, sender = user rules;
/// underride = user rules, then defaults. User rules carry "default": false.
nlohmann::json merge_push_rules(const std::string& user_id, const user_push_rules& user);

/// A Matrix error for the push rule endpoints; only the HTTP layer maps
/// errcode to a status (M_NOT_FOUND 404, the others 400).
struct push_rule_error {
  std::string errcode; ///< M_NOT_FOUND, M_INVALID_PARAM, M_MISSING_PARAM, M_BAD_JSON
  std::string error;   ///< human-readable reason
};

/// Validates an `actions` array: strings "notify", "dont_notify", "coalesce"
/// or objects with a string `set_tweak` (any `value`). Returns the actions
/// with the legacy dont_notify/coalesce stripped (spec "Historical Actions"),
/// or nullopt and *err (M_INVALID_PARAM) when err is non-null.
std::optional<nlohmann::json> parse_push_actions(const nlohmann::json& actions,
                                                 push_rule_error* err);

/// Validates the body of PUT /pushrules/global/{kind}/{rule_id} for a user
/// rule: rule_id non-empty, without '/' or '\', not starting with '.'
/// (reserved for server-default rules; M_INVALID_PARAM); `actions` required
/// (M_MISSING_PARAM); content rules need a string `pattern` (M_MISSING_PARAM);
/// override/underride `conditions` default to [] and must be objects with a
/// string `kind`, known kinds with their parameters (event_match: key,
/// pattern; event_property_is/contains: key and a scalar value;
/// room_member_count: is; sender_notification_permission: key). A non-object
/// body is M_BAD_JSON. Never throws.
std::optional<push_rule> parse_push_rule(push_rule_kind kind, const std::string& rule_id,
                                         const nlohmann::json& body, push_rule_error* err);

/// Stores `rule` among the user's rules of `kind` (PUT). With `before`
/// (wins over `after`) or `after`, the rule goes right before/after that
/// user rule of the same kind: a '.'-prefixed id is M_INVALID_PARAM (no rule
/// may be placed relative to a server-default rule), an unknown one
/// M_NOT_FOUND. Without either it becomes the kind's highest-priority rule
/// (as Synapse does). Replacing an existing rule keeps its enabled flag.
/// On error nothing changes.
std::optional<push_rule_error> put_user_push_rule(user_push_rules& user, push_rule_kind kind,
                                                  push_rule rule, const std::string& before,
                                                  const std::string& after);

/// DELETE: removes a user rule; M_NOT_FOUND when absent, M_INVALID_PARAM
/// for a server-default ('.'-prefixed) rule.
std::optional<push_rule_error> delete_user_push_rule(user_push_rules& user, push_rule_kind kind,
                                                     const std::string& rule_id);

/// PUT .../enabled: for a user rule or a server-default rule of that kind;
/// M_NOT_FOUND for anything else.
std::optional<push_rule_error> set_push_rule_enabled(user_push_rules& user, push_rule_kind kind,
                                                     const std::string& rule_id, bool enabled);

/// PUT .../actions: `actions` validated as by parse_push_actions; M_NOT_FOUND
/// for a rule that is neither a user rule nor a server default of that kind.
std::optional<push_rule_error> set_push_rule_actions(user_push_rules& user, push_rule_kind kind,
                                                     const std::string& rule_id,
                                                     const nlohmann::json& actions);

/// What evaluation needs besides the rules: the event and the room state.
struct push_context {
  const nlohmann::json* event = nullptr;  ///< the event (client or federation format)
  int64_t room_member_count = 0;          ///< joined members, for room_member_count
  std::string user_id;                    ///< the user whose rules these are
  /// The user's display name in the room; empty: contains_display_name
  /// never matches (an empty name would match everything).
  std::string user_display_name;
  /// The sender's power level; nullopt (e.g. an outlier):
  /// sender_notification_permission never matches.
  std::optional<int64_t> sender_power_level;
  /// `notifications` of the room's m.room.power_levels content; a key missing
  /// here requires 50 (spec default for "room").
  std::map<std::string, int64_t> notification_power_levels;
};

/// The result of evaluating a ruleset against one event.
struct push_result {
  bool notify = false;    ///< actions contain "notify"
  bool highlight = false; ///< a highlight tweak whose value is true or absent
  std::string sound;      ///< the sound tweak's value; empty for none
  /// The matching rule's actions, legacy actions stripped; [] when no rule
  /// matched.
  nlohmann::json actions = nlohmann::json::array();
  nlohmann::json tweaks = nlohmann::json::object(); ///< set_tweak name -> value (highlight: true when absent)
  std::string rule_id;    ///< the first matching enabled rule; empty when none
};

/// The actions of the first enabled rule in `ruleset` (GET /pushrules/ format,
/// from merge_push_rules) that matches ctx.event, kinds in order override,
/// content, room, sender, underride. Content rules match `pattern` against
/// content.body by words; room rules match room_id == rule_id, sender rules
/// sender == rule_id. The legacy mention rules (.m.rule.contains_display_name,
/// .m.rule.contains_user_name, .m.rule.roomnotif) are skipped when the event
/// content has an `m.mentions` object (spec v1.7). The user's own events
/// never notify (spec "Push Rules"): the result is empty. Never throws.
push_result evaluate_push_rules(const nlohmann::json& ruleset, const push_context& ctx);

/// A ruleset (GET /pushrules/ format, from merge_push_rules) made ready for
/// evaluation: its enabled, well-formed rules in kind order, key paths
/// split, patterns decoded and case-folded, each rule's result worked out.
/// evaluate_push_rules is compile_push_rules then first_matching_rule; the
/// events writer keeps one of these per user, so an event costs no JSON
/// walk of the rules (Synapse moved the same work to Rust for the same
/// reason: it runs for every local member of a room, for every event).
struct compiled_push_condition {
  enum class kind_t { event_match, property_is, property_contains, display_name, member_count,
                      sender_permission, never };
  kind_t kind = kind_t::never;
  std::vector<std::string> path; ///< event_match, property_*: the key, split
  std::u32string pattern;        ///< event_match: code points, case-folded
  /// event_match: the pattern lower-cased when it is ASCII without a
  /// wildcard and the match is whole-value: compared byte by byte.
  std::optional<std::string> ascii_literal;
  bool words = false;            ///< event_match on content.body: word boundaries
  nlohmann::json value;          ///< property_*
  std::string op;                ///< member_count: "==", "<", ">", "<=", ">="
  int64_t count = 0;             ///< member_count
  std::string key;               ///< sender_permission: the notification key
};

struct compiled_push_rule {
  std::string rule_id;
  bool legacy_mention = false;   ///< a default mention rule (skipped with m.mentions)
  std::vector<compiled_push_condition> conditions;
  push_result result;            ///< what matching this rule gives
  std::string actions_text;      ///< result.actions, serialised
};

struct compiled_push_rules {
  std::vector<compiled_push_rule> rules;
};

compiled_push_rules compile_push_rules(const nlohmann::json& ruleset);

/// The first rule of `rules` that matches ctx.event, as evaluate_push_rules
/// decides; nullptr when none does (or the event is the user's own).
const compiled_push_rule* first_matching_rule(const compiled_push_rules& rules, const push_context& ctx);

/// One condition against ctx (exposed for tests and for clients' previews).
/// Unknown kinds and malformed conditions do not match.
bool push_condition_matches(const nlohmann::json& condition, const push_context& ctx);

/// Glob match (`*` any run, `?` one character), case-insensitive (ASCII,
/// Latin-1, Greek, Cyrillic). words == false: the whole value; true: any
/// substring starting and ending at a word boundary (start/end of value or a
/// character outside [A-Za-z0-9_]), as for content.body.
bool push_glob_matches(std::string_view pattern, std::string_view value, bool words);

} // namespace axon::matrix
