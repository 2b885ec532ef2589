"""refusalkit.data"""
