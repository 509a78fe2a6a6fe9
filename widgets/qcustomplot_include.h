#pragma once
// QCustomPlot's header uses Qt's `signals` and `foreach` keywords, which this
// project turns off (QT_NO_KEYWORDS keeps them from clashing with libtorch).

#define signals Q_SIGNALS
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef foreach
