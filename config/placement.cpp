// config/placement.cpp -- which instance does each duty: run_background_tasks_on,
// pusher_instances, federation_sender_instances, the *_from_worker keys and
// their legacy forms (start_pushers, send_federation, notify_appservices,
// update_user_directory), media_instance_running_background_jobs and
// outbound_federation_restricted_to. Synapse: synapse/config/workers.py.
#include "config/sections.hpp"

namespace axon::config::detail {

namespace {

/// pusher_instances / federation_sender_instances, or their legacy forms
/// (Synapse's _worker_names_performing_this_duty).
void parse_duty_list(const merged_doc& doc, const homeserver_config& cfg,
                     const std::string& legacy_option, const std::string& legacy_app,
                     const std::string& key, std::vector<std::string>& out) {
  bool legacy = true;
  doc.at(legacy_option).read(doc.get(legacy_option), legacy_option, legacy);
  if (doc.has(key)) {
    reader r = doc.at(key);
    read_instances(r, doc.get(key), key, out);
    return;
  }
  out.clear(); // empty: an instance this file does not name does it
  if (legacy)
    out = {"main"};
  if (cfg.worker_app == legacy_app) {
    if (legacy)
      doc.at(legacy_option)
          .error(legacy_option, "must be false in the shared config to run a synapse.app." +
                                    legacy_app + " worker (better: worker_app: generic_worker "
                                    "and " + key + ")");
    else
      out = {cfg.worker_name};
  }
}

/// update_user_directory_from_worker / notify_appservices_from_worker, or
/// their legacy forms (Synapse's _should_this_worker_perform_duty).
void parse_duty_single(const merged_doc& doc, const homeserver_config& cfg,
                       const std::string& legacy_option, const std::string& legacy_app,
                       const std::string& key, std::string& out) {
  std::optional<std::string> designated;
  if (doc.find(key)) {
    std::string v;
    doc.at(key).read(doc.get(key), key, v);
    designated = v.empty() ? std::string("main") : canonical_instance(v);
  }
  // Who the legacy form names: main, this worker, or (nullopt) an unnamed other.
  std::optional<std::optional<std::string>> legacy_target;
  if (doc.has(legacy_option)) {
    bool run_on_main = true;
    reader r = doc.at(legacy_option);
    if (r.read(doc.get(legacy_option), legacy_option, run_on_main)) {
      r.warn(legacy_option + " in " + r.file() + " is deprecated; use " + key +
             ": <instance> instead");
      if (run_on_main)
        legacy_target = std::optional<std::string>("main");
      else if (cfg.worker_app == legacy_app)
        legacy_target = std::optional<std::string>(cfg.worker_name);
      else
        legacy_target = std::optional<std::string>();
    }
  }
  if (cfg.worker_app == legacy_app &&
      (!legacy_target || (*legacy_target && **legacy_target == "main")))
    doc.at(legacy_option)
        .error(legacy_option, "must be false in the shared config to run a synapse.app." +
                                  legacy_app + " worker (better: worker_app: generic_worker "
                                  "and " + key + ")");
  if (designated && legacy_target &&
      (*legacy_target ? **legacy_target != *designated : *designated == "main"))
    doc.at(key).error(key, "conflicts with the legacy option " + legacy_option +
                               "; remove " + legacy_option);
  if (designated)
    out = *designated;
  else if (legacy_target)
    out = legacy_target->value_or("");
  else
    out = "main";
}

} // namespace

void parse_placement(const merged_doc& doc, homeserver_config& cfg) {
  {
    reader r = doc.at("run_background_tasks_on");
    std::vector<std::string> v;
    if (doc.has("run_background_tasks_on") &&
        read_instances(r, doc.get("run_background_tasks_on"), "run_background_tasks_on", v)) {
      if (v.size() != 1)
        r.error("run_background_tasks_on", "name exactly one instance");
      else
        cfg.run_background_tasks_on = v;
    }
  }
  parse_duty_list(doc, cfg, "start_pushers", "pusher", "pusher_instances", cfg.pusher_instances);
  parse_duty_list(doc, cfg, "send_federation", "federation_sender",
                  "federation_sender_instances", cfg.federation_sender_instances);
  parse_duty_single(doc, cfg, "update_user_directory", "user_dir",
                    "update_user_directory_from_worker", cfg.update_user_directory_from_worker);
  parse_duty_single(doc, cfg, "notify_appservices", "appservice",
                    "notify_appservices_from_worker", cfg.notify_appservices_from_worker);
  {
    reader r = doc.at("media_instance_running_background_jobs");
    if (r.read(doc.get("media_instance_running_background_jobs"),
               "media_instance_running_background_jobs",
               cfg.media_instance_running_background_jobs))
      cfg.media_instance_running_background_jobs =
          canonical_instance(cfg.media_instance_running_background_jobs);
  }
  {
    reader r = doc.at("outbound_federation_restricted_to");
    const std::string key = "outbound_federation_restricted_to";
    if (read_instances(r, doc.get(key), key, cfg.outbound_federation_restricted_to) &&
        !cfg.outbound_federation_restricted_to.empty()) {
      if (cfg.worker_replication_secret.empty())
        r.error(key, "needs worker_replication_secret (as in Synapse)");
      for (const auto& name : cfg.outbound_federation_restricted_to)
        if (!cfg.instance_map.count(name))
          r.error(key, "instance '" + name + "' is not in instance_map");
    }
  }
}

} // namespace axon::config::detail
