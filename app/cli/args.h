#pragma once
// A small command-line parser: positionals, "--name value" options and
// "--flag" switches, each declared so that an unknown or malformed option is
// an error naming it.

#include <map>
#include <set>
#include <string>
#include <vector>

namespace qs::cli {

class Args {
 public:
  // options: names taking a value; flags: names taking none (without "--").
  Args(const std::vector<std::string>& argv, const std::set<std::string>& options,
       const std::set<std::string>& flags);

  const std::vector<std::string>& positionals() const { return positionals_; }
  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback) const;
  // Throws qs::ArgumentError naming the option when the value is not an integer in range.
  int64_t get_int(const std::string& name, int64_t fallback, int64_t min, int64_t max) const;
  // Throws when the value is not one of `choices`.
  std::string get_choice(const std::string& name, const std::string& fallback,
                         const std::vector<std::string>& choices) const;

 private:
  std::vector<std::string> positionals_;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
};

}  // namespace qs::cli
