"""refusalkit.run"""
