"""User-written email templates: sandboxed rendering and validation.

Templates are Jinja2 run in an immutable sandbox with StrictUndefined: a
template cannot reach Python internals, change the data it is given, or
silently print nothing for a misspelt name. HTML bodies are autoescaped, so
text a customer typed (a name, say) cannot inject markup. A template is
checked when it is saved by compiling it and rendering it against a sample
context of its type, and a large one (50 lines, so that a template which only
misbehaves for big orders shows it); errors name the part and the line.

Every render is bounded (RenderLimits, `[email] template_time_limit_ms` and
`template_max_bytes`): in time, by a deadline checked at every loop
iteration, call, attribute, operator and filter (a render in a thread cannot
be interrupted, so the sandbox looks at the clock itself); in size, by
checking before any operation that can make text or a list much bigger than
its inputs (`*`, `+`, `~`, `%`, `center`, `indent`, `format`, `replace`,
`join`, `wordwrap`, widths in format specs, ...), by checking every filter's
and call's result, and by counting the output as it is produced. A render
that passes a limit raises InvalidInput naming the part, the line and the limit.
"""

from bopo.domain.templating.budget import (
    DEFAULT_LIMITS,
    MAX_INT_BITS,
    MAX_RANGE,
    RenderLimitError,
    RenderLimits,
    TemplateTooSlow,
)
from bopo.domain.templating.compiled import (
    LARGE_SAMPLE_LINES,
    CompiledTemplate,
    TemplateCache,
    validate_template,
)
from bopo.domain.templating.contexts import backorder_context, linked_line, sample_context
from bopo.domain.templating.formatting import TABLE_COLUMNS, format_date, text_table
from bopo.domain.templating.kinds import (
    MAX_PART_CHARS,
    NOTICE_TYPES,
    PARTS,
    EmailEvent,
    Rendered,
    TemplateSource,
    TemplateType,
)

__all__ = [
    "DEFAULT_LIMITS",
    "LARGE_SAMPLE_LINES",
    "MAX_INT_BITS",
    "MAX_PART_CHARS",
    "MAX_RANGE",
    "NOTICE_TYPES",
    "PARTS",
    "TABLE_COLUMNS",
    "CompiledTemplate",
    "EmailEvent",
    "RenderLimitError",
    "RenderLimits",
    "Rendered",
    "TemplateCache",
    "TemplateSource",
    "TemplateTooSlow",
    "TemplateType",
    "backorder_context",
    "format_date",
    "linked_line",
    "sample_context",
    "text_table",
    "validate_template",
]
