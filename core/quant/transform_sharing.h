#pragma once
// Linears that read one input through one transform (AffineQuant's norm
// matrices: q/k/v share one, gate/up another) hold that tensor, or equal
// copies of it once read back from a file. A file stores it once, with the
// linear that holds it, and names that linear from the others; this finds
// the holder.

#include <torch/torch.h>

#include <string>
#include <vector>

namespace qs::quant {

class TransformSharing {
 public:
  // The name of an earlier linear whose transform is t or equals it; "" after
  // remembering t as `name`'s own.
  std::string holder_of(const torch::Tensor& t, const std::string& name);

 private:
  struct Held {
    torch::Tensor transform;
    double sum;  // compared first, so distinct transforms cost one pass each
    std::string name;
  };
  std::vector<Held> held_;
};

}  // namespace qs::quant
