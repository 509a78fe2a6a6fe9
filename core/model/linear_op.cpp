#include "core/model/linear_op.h"

#include "core/io/mapped_tensor.h"

namespace qs::model {

torch::Tensor DenseLinear::weight() const {
  std::lock_guard lock(mutex_);
  if (!w_.defined()) {
    if (!stored_.defined()) return w_ = decode_().to(device_, dtype_).contiguous();
    w_ = stored_.to(device_, dtype_).contiguous();
    // The converted copy is what computes; the file's pages can go.
    if (!w_.is_same(stored_)) io::release_mapped_pages(stored_);
  }
  return w_;
}

void DenseLinear::release() const {
  std::lock_guard lock(mutex_);
  if (w_.defined() && !w_.is_same(stored_)) w_ = torch::Tensor();
  if (stored_.defined()) io::release_mapped_pages(stored_);
}

}  // namespace qs::model
