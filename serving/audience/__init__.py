"""Who gets the e-mail: suppression, the holdout, the budget, and the action of every customer.

Pure, vectorised functions on arrays and frames (5 million customers take
seconds); the scorer wires them together and writes the audience file.

Actions and their precedence
----------------------------
Every customer gets exactly one action, decided in this order:

1. ``suppress`` — no opt-in, unsubscribed, a hard bounce or a streak of soft
   bounces, a complaint, or the frequency cap (:func:`suppression_reason`).
   Absolute: whatever the models say.
2. ``skip`` with the policy's reason — the policy would not send (a sleeping
   dog, a segment the campaign does not target, …).
3. ``skip`` with reason ``"unprofitable"`` — with a cost per send, a customer
   whose expected incremental value does not exceed it.
4. ``skip`` with reason ``"budget"`` — ranked below the budget's cut.
5. ``holdout`` — would be sent (passed 1–4) but the hash draw puts them in the
   control group.
6. ``send``.

Why the holdout is drawn above the budget cut
---------------------------------------------
The holdout exists to measure, per segment, the lift of *sending* against *not
sending* to the customers the campaign actually targets. That comparison is
unbiased only if the ``holdout`` customers and the ``send`` customers are two
random parts of the same population. So the budget's cut is a threshold on the
ranking that is applied to both alike:

* every customer the policy would send is ranked by expected incremental
  value (ties: customer id ascending);
* the holdout draw (a hash of campaign and customer id, independent of the
  model) marks some of them; the others compete for the budget, and the cut
  falls at the ``budget``-th of them — so exactly ``budget`` customers are
  ``send`` and holdout customers never use up the budget;
* the marked customers ranked above the cut are ``holdout``, those below it
  are ``skip``/``"budget"`` exactly like their unmarked neighbours.

Within every segment, ``holdout`` and ``send`` are then the customers above
the same threshold, split by a draw that knows nothing about them, so the
difference in their outcomes estimates the effect of the e-mail on that
targeted group. The alternative — labelling every marked customer ``holdout``
whatever their rank — puts customers in the control group who would never have
been sent, and a naive ``holdout`` vs ``send`` comparison would mix the effect
of the e-mail with the difference between the top of the ranking and the
rest. The price: about ``budget · s / (1 - s)`` holdout customers for a
holdout share ``s``, rather than ``s`` of everyone eligible.

The functions live in :mod:`.suppression` (suppression and the holdout draw),
:mod:`.actions` (the actions, budget and economics) and :mod:`.changes`
(segment changes between runs); every public name is importable from here.
"""

from upseg.serving.audience.actions import (
    ACTIONS,
    campaign_economics,
    choose_actions,
    expected_value,
    incremental_profit,
)
from upseg.serving.audience.changes import (
    AudienceFileError,
    segment_change_counts,
    segment_changes,
)
from upseg.serving.audience.suppression import (
    SUPPRESSION_REASONS,
    holdout_draw,
    holdout_mask,
    suppression_reason,
)

__all__ = [
    "AudienceFileError",
    "ACTIONS",
    "SUPPRESSION_REASONS",
    "campaign_economics",
    "choose_actions",
    "expected_value",
    "holdout_draw",
    "holdout_mask",
    "incremental_profit",
    "segment_change_counts",
    "segment_changes",
    "suppression_reason",
]
