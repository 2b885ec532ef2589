"""refusalkit.triggers"""
