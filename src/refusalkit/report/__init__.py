"""refusalkit.report"""
