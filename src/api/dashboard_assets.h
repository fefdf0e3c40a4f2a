// api/dashboard_assets.h — the dashboard's files, embedded in the binary at build time.
//
// Purpose: the dashboard must work on a monitor without internet access and without files
// installed next to the binary, so web/ (plain HTML, CSS and JavaScript, no CDN, no build
// step) is turned into byte arrays by src/api/embed_assets.cmake when pathpilot is built. The
// server looks files up by exact URL path; nothing is ever read from disk at run time, so no
// URL can reach a file outside this list.
// Threading: immutable data.
// Metrics: none.
#pragma once

#include <span>
#include <string_view>

namespace pathpilot::api {

struct Asset {
  std::string_view path;          // URL path: "/", "/app.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

// Every embedded file.
std::span<const Asset> dashboardAssets();

// The asset served at `path`, or nullptr.
const Asset* findAsset(std::string_view path);

}  // namespace pathpilot::api
