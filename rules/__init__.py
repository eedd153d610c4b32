"""The bundled knowledge base (YAML data). A package only so that the wheel ships it as
advisor._rules, read with importlib.resources."""
