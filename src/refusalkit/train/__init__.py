"""refusalkit.train"""
