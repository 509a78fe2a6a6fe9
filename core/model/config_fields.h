#pragma once
// Typed reads of an HF config.json object: a key that is absent or null takes
// its fallback, one of the wrong type throws qs::FormatError naming the file
// and the key, never nlohmann's type_error.

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "core/io/json_brief.h"
#include "core/io/json_int.h"

namespace qs::model {

template <class Json>
class BasicConfigFields {
 public:
  using json = Json;

  // `prefix` is put in front of keys in messages ("rope_parameters.").
  BasicConfigFields(const json& j, const std::string& source, std::string prefix = {})
      : j_(j), source_(source), prefix_(std::move(prefix)) {}

  const std::string& source() const { return source_; }
  std::string field(const char* key) const { return prefix_ + key; }

  int64_t integer(const char* key) const {
    const json* v = find(key);
    if (!v) throw FormatError(source_, field(key), "missing");
    return as_int(*v, key);
  }
  int64_t integer_or(const char* key, int64_t fallback) const {
    const json* v = find(key);
    return v ? as_int(*v, key) : fallback;
  }
  double number_or(const char* key, double fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number()) throw FormatError(source_, field(key), "expected a number, found " + brief(*v));
    return v->template get<double>();
  }
  bool boolean_or(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) throw FormatError(source_, field(key), "expected true/false, found " + brief(*v));
    return v->template get<bool>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_string()) throw FormatError(source_, field(key), "expected a string, found " + brief(*v));
    return v->template get<std::string>();
  }
  // The object under `key`, or nullptr when absent; throws when not an object.
  const json* object(const char* key) const {
    const json* v = find(key);
    if (v && !v->is_object()) throw FormatError(source_, field(key), "expected an object, found " + brief(*v));
    return v;
  }
  // Whether `key` is there at all, null included (null can differ from absent).
  bool present(const char* key) const { return j_.contains(key); }
  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

  // A value quoted in a message: its type for containers, which may be large or deep.
  static std::string brief(const json& v) { return io::json_brief(v); }

 private:
  int64_t as_int(const json& v, const char* key) const {
    const auto n = io::json_int64(v);
    if (!n) throw FormatError(source_, field(key), "expected an integer below 2^63, found " + brief(v));
    return *n;
  }
  const json& j_;
  const std::string& source_;
  std::string prefix_;
};

using ConfigFields = BasicConfigFields<nlohmann::ordered_json>;

}  // namespace qs::model
