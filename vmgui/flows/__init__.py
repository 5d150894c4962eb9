"""Dialog controllers: what a dialog asks of the hosts and what its answer sets going, without widgets.

Views build the dialogs and hand the user's input to a flow; a flow calls
typed methods of :class:`vmgui.models.session.Session` (never the bridge or a
driver) and answers with plain data or QtCore signals. Only QtCore is used
here, so each flow runs in tests without a window.
"""
