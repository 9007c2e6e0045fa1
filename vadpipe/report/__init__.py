"""Pictures people look at: the HTML report of a scores folder, and the plots of evaluate and train."""
