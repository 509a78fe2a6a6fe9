#pragma once
// Linears that read one input through one transform (AffineQuant's norm
// matrices: q/k/v share one, gate/up another) hold that tensor, or equal
// copies of it once read back from a file. A file stores it once, with the
// linear that holds it, and refers to it from the others; a reader hands them
// all one tensor. This finds the holder.

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

namespace qs::model {

class TransformSharing {
 public:
  struct Holder {
    std::string name;
    torch::Tensor transform;
  };
  // The earlier linear whose transform is t or equals it; nothing after
  // remembering t as `name`'s own.
  std::optional<Holder> holder_of(const torch::Tensor& t, const std::string& name);

 private:
  struct Held {
    Holder holder;
    double sum;  // compared first, so distinct transforms cost one pass each
  };
  std::vector<Held> held_;
};

}  // namespace qs::model
