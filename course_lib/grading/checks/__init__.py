"""The chapters' checks and reference answers: one module ``ch<NN>_<topic>.py`` per exercise notebook.

Only the grading process imports these; the sandboxed worker that runs a
student's notebook cannot see this folder (see :mod:`course_lib.grading.sandbox`).
"""
