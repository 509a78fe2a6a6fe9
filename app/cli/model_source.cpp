#include "app/cli/model_source.h"

#include <cstdio>

#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#include "core/text/tokenizer.h"
#if QS_WITH_HDF5
#include "core/project/project_file.h"
#include "core/project/project_model.h"
#include "core/project/project_provenance.h"
#endif

namespace qs::cli {
namespace fs = std::filesystem;

bool is_project_file(const fs::path& path) { return path.extension() == ".qsproj"; }

ModelSource open_model_source(const fs::path& path) {
  if (!is_project_file(path)) {
    return {checkpoint::load_model(path), text::tokenizer_source(path), checkpoint::read_provenance(path)};
  }
#if QS_WITH_HDF5
  const auto project = project::load_project(path);
  const auto status = project::check_model(project.model);
  if (status.state == project::ModelState::Missing)
    throw IoError(path.string(), status.message + "; the project's quantized layers need their model");
  if (status.state == project::ModelState::Changed) std::fprintf(stderr, "warning: %s\n", status.message.c_str());
  return {project::project_weights(project, path), text::tokenizer_source(project.model.path),
          project::provenance_of(project, path.string())};
#else
  throw IoError(path.string(), "this build of QuantScope has no HDF5 support, so it cannot open projects");
#endif
}

}  // namespace qs::cli
