// config/known_keys.cpp -- which top-level keys Axon reads, which Synapse keys
// it accepts and ignores (so an admin's homeserver.yaml loads with warnings
// only for keys that are truly unknown), and which ignored keys deserve a
// warning because ignoring them changes who may do what.
//
// The Synapse list is the `###` headings of Synapse's
// docs/usage/configuration/config_documentation.md plus older keys Synapse
// still reads or once documented.
#include <algorithm>
#include <array>

#include "config/sections.hpp"

namespace axon::config::detail {

namespace {

// Sorted, for binary search.
const std::string_view implemented[] = {
    "allow_guest_access", "allow_public_rooms_over_federation", "database", "database_path",
    "databases", "default_room_version", "disable_registration", "dynamic_thumbnails",
    "enable_authenticated_media", "enable_media_repo", "enable_registration",
    "enable_registration_without_verification", "extra_well_known_client_content",
    "federation_certificate_verification_whitelist", "federation_client_minimum_tls_version",
    "federation_custom_ca_list", "federation_domain_whitelist", "federation_ip_range_blacklist",
    "federation_sender_instances", "federation_verify_certificates", "http", "http_client",
    "instance_map", "ip_range_allowlist", "ip_range_blacklist", "ip_range_blocklist",
    "ip_range_whitelist", "key_refresh_interval", "listeners", "log_config", "max_image_pixels",
    "max_pending_media_uploads", "max_upload_size", "media_instance_running_background_jobs",
    "media_store_path", "media_upload_limits", "notify_appservices",
    "notify_appservices_from_worker", "old_signing_keys", "outbound_federation_restricted_to",
    "pid_file", "presence", "prevent_media_downloads_from", "public_baseurl",
    "pusher_instances", "rc_federation", "rc_invites", "rc_joins", "rc_login", "rc_message",
    "rc_message_burst_count", "rc_messages_per_second", "rc_registration", "redis",
    "registration_shared_secret", "registration_shared_secret_path",
    "remote_media_download_burst_count", "remote_media_download_per_second", "report_stats",
    "run_background_tasks_on", "send_federation", "serve_server_wellknown", "server_name",
    "signing_key_path", "start_pushers", "stream_writers", "suppress_key_server_warning",
    "thumbnail_sizes", "tls_certificate_path", "tls_private_key_path", "trusted_key_servers",
    "unused_expiration_time", "update_user_directory", "update_user_directory_from_worker",
    "use_presence", "user_directory", "worker_app", "worker_listeners", "worker_log_config",
    "worker_main_http_uri", "worker_name", "worker_pid_file", "worker_replication_host",
    "worker_replication_http_port", "worker_replication_http_tls", "worker_replication_port",
    "worker_replication_secret", "worker_replication_secret_path",
};

// Sorted, for binary search.
const std::string_view ignored[] = {
    "account_threepid_delegates", "account_validity", "acme", "admin_contact",
    "alias_creation_rules", "allow_device_name_lookup_over_federation",
    "allow_per_room_profiles", "allow_profile_lookup_over_federation",
    "allow_public_rooms_without_auth", "allow_underscore_prefixed_registration",
    "allowed_avatar_mimetypes", "allowed_local_3pids", "app_service_config_files",
    "auto_accept_invites", "auto_join_mxid_localpart", "auto_join_rooms",
    "auto_join_rooms_for_guests", "autocreate_auto_join_room_preset",
    "autocreate_auto_join_rooms", "autocreate_auto_join_rooms_federated", "background_updates",
    "bcrypt_rounds", "bind_host", "bind_port", "block_non_admin_invites", "caches",
    "cas_config", "cleanup_extremities_with_dummy_events", "daemonize",
    "default_identity_server", "default_power_level_content_override",
    "delete_stale_devices_after", "disable_msisdn_registration", "dummy_events_threshold",
    "email", "email_threepid_lookup", "enable_3pid_changes", "enable_3pid_lookup",
    "enable_group_creation", "enable_local_media_storage", "enable_metrics",
    "enable_registration_captcha", "enable_registration_token_3pid_bypass",
    "enable_room_list_search", "enable_search", "enable_set_avatar_url",
    "enable_set_displayname", "encryption_enabled_by_default_for_room_type", "event_cache_size",
    "exclude_rooms_from_presence", "exclude_rooms_from_sync", "experimental_features",
    "federation", "federation_ip_range_whitelist", "federation_metrics_domains",
    "federation_rc_concurrent", "federation_rc_reject_limit", "federation_rc_sleep_delay",
    "federation_rc_sleep_limit", "federation_rc_window_size",
    "federation_rr_transactions_per_room_per_second", "federation_whitelist_endpoint_enabled",
    "filter_timeline_limit", "forget_rooms_on_leave", "forgotten_room_retention_period",
    "form_secret", "form_secret_path", "gc_min_interval", "gc_thresholds",
    "group_creation_prefix", "hs_disabled", "hs_disabled_message", "http_proxy", "https_proxy",
    "include_profile_data_on_invite", "inhibit_user_in_use_error", "jwt_config",
    "key_refresh_interval", "key_server_signing_keys_path",
    "limit_profile_requests_to_users_who_share_rooms", "limit_remote_rooms",
    "limit_usage_by_mau", "log_file", "login_via_existing_session", "macaroon_secret_key",
    "macaroon_secret_key_path", "manhole", "manhole_settings", "matrix_authentication_service",
    "matrix_rtc", "mau_appservice_trial_days", "mau_limit_alerting",
    "mau_limit_reserved_threepids", "mau_limits_reserved_threepids", "mau_stats_only",
    "mau_trial_days", "max_avatar_size", "max_event_delay_duration", "max_mau_value",
    "max_spider_size", "media_retention", "media_storage_providers", "metrics_bind_host",
    "metrics_flags", "metrics_port", "modules", "next_link_domain_whitelist", "no_proxy_hosts",
    "no_tls", "nonrefreshable_access_token_lifetime", "oembed", "oidc_providers", "opentracing",
    "password_config", "password_providers", "print_pidfile", "push", "rc_3pid_validation",
    "rc_admin_redaction", "rc_delayed_event_mgmt", "rc_joins_per_room", "rc_media_create",
    "rc_presence", "rc_registration_token_validity", "rc_reports", "rc_room_creation",
    "rc_third_party_invite", "rc_user_directory", "recaptcha_private_key",
    "recaptcha_private_key_path", "recaptcha_public_key", "recaptcha_public_key_path",
    "recaptcha_siteverify_api", "redaction_retention_period", "refresh_token_lifetime",
    "refreshable_access_token_lifetime", "registration_requires_token",
    "registrations_require_3pid", "replication_torture_level", "report_stats_endpoint",
    "request_token_inhibit_3pid_errors", "require_auth_for_profile_requests",
    "require_membership_for_aliases", "retention", "room_invite_state_types",
    "room_list_publication_rules", "room_prejoin_state", "saml2_config", "sentry",
    "server_context", "server_notices", "session_lifetime", "signing_key", "soft_file_limit",
    "spam_checker", "sso", "stats", "templates", "third_party_event_rules",
    "tls_dh_params_path", "tls_fingerprints", "track_appservice_user_ips",
    "track_puppeted_user_ips", "trusted_third_party_id_servers", "turn_allow_guests",
    "turn_password", "turn_shared_secret", "turn_shared_secret_path", "turn_uris",
    "turn_user_lifetime", "turn_username", "ui_auth", "unsecure_port", "uploads_path",
    "url_preview_accept_language", "url_preview_enabled", "url_preview_ip_range_allowlist",
    "url_preview_ip_range_blacklist", "url_preview_ip_range_blocklist", "url_preview_ip_range_whitelist",
    "url_preview_url_blacklist", "url_preview_url_blocklist",
    "use_appservice_legacy_authorization", "use_frozen_dicts",
    "use_insecure_ssl_client_just_for_testing_do_not_use", "user_agent_suffix", "user_consent",
    "user_ips_max_age", "user_types", "verbose", "web_client", "web_client_location",
    "worker_daemonize", "worker_manhole",
};

struct risk {
  std::string_view key;
  std::string_view consequence;
};

const risk risks[] = {
    {"account_validity", "accounts do not expire"},
    {"app_service_config_files", "application services are not loaded"},
    {"block_non_admin_invites", "invites are not limited to admins"},
    {"cas_config", "CAS login is not available"},
    {"enable_registration_captcha", "registrations are not checked by captcha"},
    {"encryption_enabled_by_default_for_room_type", "new rooms are not encrypted by default"},
    {"hs_disabled", "the server is not disabled"},
    {"jwt_config", "JWT login is not available"},
    {"limit_usage_by_mau", "monthly active user limits are not enforced"},
    {"matrix_authentication_service", "authentication is not delegated"},
    {"modules", "modules are not loaded"},
    {"oidc_providers", "OpenID Connect login is not available"},
    {"password_config", "password login settings (enabled, policy, pepper) are not applied"},
    {"password_providers", "password providers are not loaded"},
    {"registration_requires_token", "registrations do not require a token"},
    {"registrations_require_3pid", "registrations do not require an email or phone number"},
    {"require_auth_for_profile_requests", "profiles can be read without authentication"},
    {"retention", "message retention policies are not enforced"},
    {"saml2_config", "SAML login is not available"},
    {"spam_checker", "spam checkers are not loaded"},
    {"third_party_event_rules", "third-party event rules are not loaded"},
};

template <size_t N>
bool contains(const std::string_view (&list)[N], std::string_view key) {
  return std::binary_search(std::begin(list), std::end(list), key);
}

} // namespace

bool is_implemented_key(std::string_view key) { return contains(implemented, key); }

bool is_ignored_synapse_key(std::string_view key) { return contains(ignored, key); }

std::string_view ignored_key_risk(std::string_view key) {
  for (const auto& r : risks)
    if (r.key == key)
      return r.consequence;
  return {};
}

} // namespace axon::config::detail
