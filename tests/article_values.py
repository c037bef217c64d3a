"""The article's worked example, the one source for every test that replays it."""

# From long-term memory 2, short-term memory 1 and input 1, to 1e-4. These are the exact
# values, not the article's rounded ones: it rounds the forget gate to 1 and so gets 0.9899
# for the new short-term memory instead of 0.98930.
WORKED_EXAMPLE = {
    "forget_gate": 0.99925,
    "input_gate": 0.93703,
    "candidate": 0.98661,
    "output_gate": 0.99503,
    "cell_state": 2.92299,
    "hidden_state": 0.98930,
}
