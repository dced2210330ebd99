"""Why an element of a tensor has its value: the formula with the real numbers.

elements is the entry point (explain, explain_text) and its table PHASES sends each phase to
its module: forward, backward, batch (a mini-batch's means), update (the parameters), check
(a numerical gradient), user (a user's model). net is the state they read, catalog names the
tensors a state holds, explanation holds the Explanation and redoes its arithmetic through
engine.maths, written writes numbers and sums. origin finds a diverged state's first inf or
NaN in the order the phases computed them, and says from its explanation what overflowed.

The top engine layer: may import every other engine package.
"""
