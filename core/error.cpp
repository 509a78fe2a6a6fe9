#include "core/error.h"

namespace qs {

IoError::IoError(const std::string& path, const std::string& detail)
    : Error(path + ": " + detail) {}

FormatError::FormatError(const std::string& path, const std::string& field,
                         const std::string& detail, std::optional<uint64_t> offset)
    : Error(path + ": " + field + ": " + detail +
            (offset ? " (at byte offset " + std::to_string(*offset) + ")" : std::string())) {}

ConfigError::ConfigError(const std::string& source, const std::string& field,
                         const std::string& detail)
    : Error(source + ": " + field + ": " + detail) {}

}  // namespace qs
