"""The booking engine: reads of free slots and rules (`queries`), the writes that hold, book, move and cancel
(`services`), the mails they send (`notifications`) and their background tasks (`tasks`)."""
