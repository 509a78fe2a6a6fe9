#pragma once
// A JSON value quoted in an error message: scalars as written (cut at 64
// characters), containers by their kind, since a hostile file's value can be
// large or nested deep enough that printing it would exhaust the stack.

#include <string>

namespace qs::io {

template <class Json>
std::string json_brief(const Json& v) {
  if (v.is_object()) {
    const auto type = v.find("type");
    if (type == v.end() || !type->is_string()) return "an object";
    return "an object of type '" + type->template get<std::string>().substr(0, 60) + "'";
  }
  if (v.is_array()) return "a list";
  const std::string s = v.dump();
  return s.size() > 64 ? s.substr(0, 61) + "..." : s;
}

}  // namespace qs::io
