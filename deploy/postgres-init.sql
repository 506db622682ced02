-- Each service keeps its own database.
CREATE DATABASE intake;
CREATE DATABASE dispatch;
CREATE DATABASE escalation;
CREATE DATABASE notify;
