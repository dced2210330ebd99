"""The numbers and names a setting may take: the bounds the rules check, the help states and
the data sets draw from (engine.data.sets takes its bounds from here)."""

from __future__ import annotations

MAX_INPUTS = 1_000_000
MAX_HIDDEN = 100_000
MAX_LAYERS = 8  # hidden layers
MAX_CLASSES = 10_000
#: Parameters at most: 80 MB a copy in float64, so a step and a bounded undo history fit.
MAX_PARAMS = 10_000_000
MAX_STEPS = 1_000_000
MAX_SEED = 2**32 - 1
#: A user's model process: seconds a call may take, and its address space in MB.
MODEL_TIMEOUT = 30.0
MAX_MODEL_TIMEOUT = 86_400.0  # a day
MODEL_MEMORY_MB = 4096
MODEL_MEMORY_BOUNDS = (256, 1 << 20)  # below 256 MB NumPy itself may not load; 1 TB above
#: The generated data sets (engine.data.sets draws them), and those that also come in 3 classes
#: (a natural third blob or arm).
DATASETS = ("xor", "circle", "gauss", "spiral", "moons")
MULTICLASS = ("gauss", "spiral")
MAX_SAMPLES = 100_000  # bounds the memory and the time of a full-batch pass; the Playground draws hundreds
#: A CSV file's numbers, as the float64 arrays they become (X and y), at most: MNIST's 60,000 rows of
#: 785 take 377 MB; the standardized copy and the batches come on top, so a data set stays within a
#: few GiB. Checked before a number is parsed, from the first row's width and the count of rows.
MAX_DATA_BYTES = 2**30
#: A CSV line's characters at most: a row of MAX_INPUTS fields of 60 characters each. A longer line
#: is refused as soon as this much of it is read, so a file of one endless line never fills memory.
MAX_LINE_CHARS = 64 * 2**20
MAX_NOISE = 1.0  # noise is a fraction of the shape's radius: at 1 the classes are a blur
MAX_TEST_FRACTION = 0.9  # at least a tenth of the rows is left to learn from
TRACES = ("summary", "full")
#: A headless run on data longer than this writes a summary trace unless --trace full.
SUMMARY_OVER = 100
FORMATS = ("text", "json")
#: --json-arrays-max's default: a JSON trace written to a file (--output) keeps arrays of more
#: elements in an .npz beside it (784-128-1's W1, 100,352 numbers, goes; the notebook's
#: network and the moons' never do).
JSON_ARRAYS_MAX = 100_000
