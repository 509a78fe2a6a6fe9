#pragma once
// Compute threads yield to the GUI thread. A run, a comparison or a layer
// preview keeps every core busy with torch's OpenMP team; at equal priority
// the GUI thread waits its turn behind those threads, and on a 2-core machine
// a 20 ms repaint took 120 ms or more of wall time. Lowered threads lose
// nothing while the GUI is idle, which is almost always.

namespace qs::app {

// Lowers the calling thread's scheduling priority (Linux: nice +5, once per
// thread). OpenMP threads this thread starts afterwards inherit it, so call it
// before the thread's first torch operation. Elsewhere a no-op.
void lower_current_thread_priority();

}  // namespace qs::app
