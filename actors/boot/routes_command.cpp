// actors/boot/routes_command.cpp -- `axon routes nginx|haproxy -c homeserver.yaml
// [-c more.yaml ...] [--worker WORKER.yaml ...] [--workers-dir DIR] [--listen PORT]
// [--js-dir DIR]`.
//
// The shared files are loaded as the main process loads them; each worker as
// that worker loads itself (the shared files, then its own), so its
// worker_listeners are validated the same way. The endpoint table is the one
// the HTTP listeners serve (actors/client/routes.hpp).
#include "actors/boot/routes_command.hpp"

#include "actors/client/routes.hpp"
#include "config/homeserver_config.hpp"
#include "config/routes_gen.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>

namespace axon::boot {

namespace {

void usage(std::ostream& os) {
  os << "usage: axon routes nginx|haproxy -c homeserver.yaml [-c more.yaml ...]\n"
        "            [--worker WORKER.yaml ...] [--workers-dir DIR] [--listen PORT]\n"
        "            [--js-dir DIR]\n"
        "\n"
        "Prints the reverse-proxy configuration of the layout on stdout: for nginx a snippet\n"
        "for the http {} context, for haproxy (2.6+) a frontend and its backends.\n"
        "Event writes (send, state, redactions, membership) go to the room's events writer\n"
        "(stream_writers.events), computed as the server shards rooms. haproxy does it with\n"
        "converters. nginx needs njs for it: --js-dir DIR writes the njs module\n"
        "DIR/axon_routes.js, which the snippet imports (js_import); load\n"
        "ngx_http_js_module in nginx's main context (Debian: libnginx-mod-http-js,\n"
        "load_module /usr/lib/nginx/modules/ngx_http_js_module.so). Without --js-dir nginx\n"
        "hashes rooms over the writers with its own hash (a fallback: correct, slower).\n";
}

/// Loads `files`, printing errors and (new) warnings; nullopt on errors.
std::optional<config::homeserver_config> load(const std::vector<std::string>& files,
                                              std::set<std::string>& warned) {
  auto res = config::load_config(files);
  for (auto& w : res.warnings)
    if (warned.insert(w).second) std::cerr << "axon: warning: " << w << "\n";
  for (auto& e : res.errors) std::cerr << "axon: " << e.to_string() << "\n";
  return res.errors.empty() ? res.config : std::nullopt;
}

std::vector<config::endpoint> endpoint_table() {
  std::vector<config::endpoint> out;
  for (auto& r : client::all_routes())
    out.push_back({r.method, r.prefix, r.path, r.resource, r.owner ? r.owner : ""});
  return out;
}

} // namespace

int routes_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    usage(args.empty() ? std::cerr : std::cout);
    return args.empty() ? 2 : 0;
  }
  const std::string kind = args[0];
  if (kind != "nginx" && kind != "haproxy") {
    std::cerr << "axon: routes: unknown proxy kind '" << kind << "' (nginx or haproxy)\n";
    return 1;
  }
  std::vector<std::string> shared_files, worker_files;
  int listen = 8008;
  std::string js_dir;
  for (size_t i = 1; i < args.size(); ++i) {
    const auto& a = args[i];
    auto eq = a.find('=');
    const std::string flag = a.substr(0, eq);
    auto value = [&]() -> std::optional<std::string> {
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (flag != "-c" && flag != "--config-path" && flag != "--config-file" && flag != "--worker" &&
        flag != "--workers-dir" && flag != "--listen" && flag != "--js-dir") {
      std::cerr << "axon: routes: unknown argument " << a << "\n";
      usage(std::cerr);
      return 2;
    }
    auto v = value();
    if (!v) {
      std::cerr << "axon: routes: " << flag << " needs a value\n";
      return 2;
    }
    if (flag == "--worker") {
      worker_files.push_back(*v);
    } else if (flag == "--workers-dir") {
      std::error_code ec;
      if (!std::filesystem::is_directory(*v, ec)) {
        std::cerr << "axon: " << *v << ": --workers-dir is not a readable directory\n";
        return 1;
      }
      std::vector<std::string> found;
      for (auto& entry : std::filesystem::directory_iterator(*v, ec)) {
        auto ext = entry.path().extension().string();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml"))
          found.push_back(entry.path().string());
      }
      if (ec) {
        std::cerr << "axon: " << *v << ": " << ec.message() << "\n";
        return 1;
      }
      std::sort(found.begin(), found.end());
      worker_files.insert(worker_files.end(), found.begin(), found.end());
    } else if (flag == "--js-dir") {
      js_dir = *v;
    } else if (flag == "--listen") {
      try {
        size_t used = 0;
        listen = std::stoi(*v, &used);
        if (used != v->size()) listen = 0;
      } catch (const std::exception&) {
        listen = 0;
      }
      if (listen < 1 || listen > 65535) {
        std::cerr << "axon: routes: --listen needs a port between 1 and 65535, not " << *v << "\n";
        return 2;
      }
    } else {
      shared_files.push_back(*v);
    }
  }
  if (shared_files.empty()) {
    std::cerr << "axon: routes: give the shared config with -c\n";
    usage(std::cerr);
    return 2;
  }

  std::set<std::string> warned;
  auto shared = load(shared_files, warned);
  if (!shared) return 1;
  if (shared->is_worker()) {
    std::cerr << "axon: " << shared_files.back()
              << ": worker_app: the -c files describe a worker; pass worker files with --worker\n";
    return 1;
  }
  std::vector<config::homeserver_config> workers;
  bool ok = true;
  for (auto& wf : worker_files) {
    auto files = shared_files;
    files.push_back(wf);
    auto w = load(files, warned);
    if (!w) {
      ok = false;
      continue;
    }
    if (!w->is_worker()) {
      std::cerr << "axon: " << wf << ": worker_app: missing; this is not a worker config\n";
      ok = false;
      continue;
    }
    workers.push_back(std::move(*w));
  }
  if (!ok) return 1;

  std::string njs_path;
  if (!js_dir.empty()) {
    if (kind != "nginx") {
      std::cerr << "axon: routes: --js-dir is for nginx (haproxy computes the shard itself)\n";
      return 2;
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(js_dir, ec)) {
      std::cerr << "axon: " << js_dir << ": --js-dir is not a directory\n";
      return 1;
    }
    njs_path = (std::filesystem::absolute(js_dir, ec) / config::njs_file_name).lexically_normal().string();
  }
  auto res = config::generate_routes(kind, *shared, workers, endpoint_table(), listen, njs_path);
  for (auto& e : res.errors) std::cerr << "axon: routes: " << e << "\n";
  if (!res.errors.empty()) return 1;
  if (!njs_path.empty()) {
    std::ofstream js(njs_path, std::ios::binary | std::ios::trunc);
    js << res.njs;
    js.close();
    if (!js) {
      std::cerr << "axon: " << njs_path << ": cannot write the njs module\n";
      return 1;
    }
  }
  std::cout << res.text;
  return 0;
}

} // namespace axon::boot
