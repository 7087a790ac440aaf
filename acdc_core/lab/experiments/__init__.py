"""The experiment runners: one runner (:mod:`.runner`) and a study per notebook (:mod:`.mnist`,
:mod:`.cifar`), each its recipes plus how to build and train one."""
