"""refusalkit.evolve"""
