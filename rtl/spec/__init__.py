"""The spec every layer reads: the validated ArrayConfig, the op table, each unit's configuration
layout, the switch and array layouts, the bitstream format and the expression programs. The RTL, the
golden models and the mapper import these modules; nothing here imports an implementation."""
