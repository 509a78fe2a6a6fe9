#include "core/methods/rtn.h"

#include "core/methods/block_context.h"

namespace qs::methods {

void RtnMethod::quantize_block(methods::BlockContext& ctx, const quant::MethodParams&) const {
  for (auto role : ctx.assigned()) {
    ctx.check_cancelled();
    ctx.commit(role, quant::QuantizedLinear::round_to_nearest(ctx.weight(role), ctx.spec(role)));
  }
}

}  // namespace qs::methods
