"""refusalkit.internals"""
